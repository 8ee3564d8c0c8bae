"""vitaltrust: how far can a coach trust this health data right now?"""

__version__ = "0.1.0"
