"""Calibration: does the confidence score predict how wrong the data is?"""
