"""Device error models, each taken from a published validation study (pure, seeded).

A model draws a per-device (per user and device) bias once and a per-reading error for
every reading. The figures, and where they come from, are next to each model; tests in
tests/calibration/test_error_models.py check the simulated errors reproduce them.
Where no study gives a figure, the parameter is marked ASSUMPTION.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorModel:
    """reading = truth x (1 + rel) + abs, with rel and abs each bias + noise.

    `bias_*`: (mean, sd) of the per-device bias; `noise_*`: sd of the per-reading error.
    `motion_p`/`motion_factor`: share of readings taken in motion and how much larger their
    noise is; `rounding`: the device or person rounds to this step (0 = none).
    """
    bias_abs: tuple[float, float] = (0.0, 0.0)
    noise_abs: float = 0.0
    bias_rel: tuple[float, float] = (0.0, 0.0)
    noise_rel: float = 0.0
    motion_p: float = 0.0
    motion_factor: float = 1.0
    rounding: float = 0.0
    source: str = ""

    def device_bias(self, rng: random.Random) -> tuple[float, float]:
        """(absolute, relative) bias of one device, drawn once per user and device."""
        return rng.gauss(*self.bias_abs), rng.gauss(*self.bias_rel)

    def read(self, truth: float, bias: tuple[float, float], rng: random.Random) -> float:
        factor = self.motion_factor if self.motion_p and rng.random() < self.motion_p else 1.0
        rel = bias[1] + rng.gauss(0.0, self.noise_rel * factor) if self.noise_rel else bias[1]
        value = truth * (1.0 + rel) + bias[0]
        if self.noise_abs:
            value += rng.gauss(0.0, self.noise_abs * factor)
        if self.rounding:
            value = round(value / self.rounding) * self.rounding
        return value


# --- weight ---------------------------------------------------------------------------
# Yorkin et al. 2013, "Accuracy and consistency of weights provided by home bathroom
# scales", BMC Public Health 13:1194: digital home scales weighed certified test loads
# accurately (dial scales were off by 0.95 (SD 1.9) kg at zero). We give a digital smart
# scale a per-device bias of SD 0.25 kg and 0.15 kg per reading: |error| mostly within
# 0.1-0.5 kg, the range the product brief quotes for consumer scales.
SCALE = ErrorModel(bias_abs=(0.0, 0.25), noise_abs=0.15, rounding=0.1,
                   source="Yorkin 2013 BMC Public Health 13:1194 (digital scales accurate)")
# Self-reported weight is under-reported: by 0.70 (SD 1.92) kg in "Validation of
# self-reported weights and heights in the avoiding diabetes after pregnancy trial"
# (BMC Med Res Methodol 2014, 14:65), and by 2.06 lb (0.93 kg) at baseline among obese
# employees (Int J Telemed Appl 2011:909248). Model: per-person under-reporting
# N(0.8, 1.2) kg, 1.4 kg per entry, rounded to 0.5 kg: mean -0.8 kg, SD ~1.9 kg.
MANUAL_WEIGHT = ErrorModel(bias_abs=(-0.8, 1.2), noise_abs=1.4, rounding=0.5,
                           source="BMC Med Res Methodol 2014 14:65; Int J Telemed Appl 2011:909248")
# Consumer BIA scales vs DXA: body fat under-estimated by 0.8 to 8.9 % (Sci Rep 2023
# 13:17420) with wide limits of agreement (foot-to-foot BIA fat-free mass +/-3 kg at 2 SD,
# Nutr J 2015, PMC4489024). Model: per-person bias N(-1.5, 2.5) points, 0.8 per reading
# (hydration), which is the day-to-day wobble BIA is known for (ASSUMPTION for the 0.8).
BIA_BODY_FAT = ErrorModel(bias_abs=(-1.5, 2.5), noise_abs=0.8, rounding=0.1,
                          source="Sci Rep 2023 13:17420; Nutr J 2015 (PMC4489024)")

# --- heart ----------------------------------------------------------------------------
# Nocturnal resting HR vs ECG (Dial et al. 2025, 13 adults, 536 nights, Physiological
# Reports; summary at openscience.ink): MAPE Oura Gen3 1.67 %, Gen4 1.94 %, WHOOP 4.0
# 3.00 %, Polar Grit X Pro 2.71 %. Ring: MAPE ~1.8 % (sd 2.25 % -> MAPE ~1.8 %); wrist
# ~2.9 %. Wrist optical HR in motion: MAE "not larger than 3 bpm" with limits of
# agreement +/-15 bpm across activities (Sartor et al. 2018, BMC Sports Sci Med Rehabil
# 10:10): nights with movement (15 %) get 2.5x the noise.
RING_RHR = ErrorModel(bias_rel=(0.0, 0.01), noise_rel=0.02,
                      source="Dial 2025 Physiol Rep: Oura RHR MAPE 1.67-1.94 %")
WATCH_RHR = ErrorModel(bias_rel=(0.0, 0.015), noise_rel=0.028, motion_p=0.15, motion_factor=2.5,
                       source="Dial 2025 (WHOOP 3.00 %, Polar 2.71 %); Sartor 2018 (motion)")
STRAP_RHR = ErrorModel(noise_rel=0.005, source="ECG chest strap: the reference in those studies")
# RMSSD vs ECG (same study): MAPE Oura Gen4 5.96 %, Gen3 7.15 %, WHOOP 8.17 %, Garmin
# Fenix 6 10.52 %, Polar 16.32 %; Stone et al. 2021 (Front Sports Act Living 3:585870):
# Oura 6.84 %. Ring ~6.5 % MAPE, wrist ~11 % (with motion nights).
RING_HRV = ErrorModel(bias_rel=(0.0, 0.03), noise_rel=0.075,
                      source="Dial 2025: Oura RMSSD MAPE 5.96-7.15 %; Stone 2021: 6.84 %")
WATCH_HRV = ErrorModel(bias_rel=(0.0, 0.06), noise_rel=0.11, motion_p=0.15, motion_factor=2.0,
                       source="Dial 2025: WHOOP 8.17 %, Garmin 10.52 %, Polar 16.32 %")
STRAP_HRV = ErrorModel(noise_rel=0.015, source="ECG chest strap: the reference in those studies")

# --- steps ----------------------------------------------------------------------------
# Treadmill, 10 devices, directly observed steps (Moore et al., ISPAH 2018, 80 adults):
# MAPE < 3 % at 1.10-1.54 m/s, <= 5.2 % at 0.88-1.76 m/s, 16.3-80.4 % at <= 0.66 m/s.
# Devices miss steps, so slow walkers are under-counted. Normal walkers: bias N(-2 %, 2 %),
# 3 % per day; slow walkers (SLOW_WALKER_P of users): bias N(-30 %, 10 %), 8 % per day.
WEARABLE_STEPS = ErrorModel(bias_rel=(-0.02, 0.02), noise_rel=0.03, rounding=1.0,
                            source="Moore 2018 ISPAH: MAPE < 3 % at 1.1-1.5 m/s")
SLOW_WALKER_STEPS = ErrorModel(bias_rel=(-0.30, 0.10), noise_rel=0.08, rounding=1.0,
                               source="Moore 2018 ISPAH: MAPE 16.3-80.4 % at <= 0.66 m/s")
SLOW_WALKER_P = 0.15  # ASSUMPTION: share of clients walking slowly (older, rehabilitation)
# A phone counts only while carried: ASSUMPTION, -25 % (SD 10 %) per person, 12 % per day.
PHONE_STEPS = ErrorModel(bias_rel=(-0.25, 0.10), noise_rel=0.12, rounding=1.0,
                         source="ASSUMPTION (phone not carried all day)")

# --- sleep ----------------------------------------------------------------------------
# Consumer sleep trackers vs PSG (Chinoy et al. 2021, Sleep 44(5), PMC8120339): sleep
# sensitivity >= 0.93 but wake specificity 0.18-0.54, so wake in bed is counted as sleep
# and total sleep time is over-estimated. ASSUMPTION for the size: +20 min (SD 15) per
# person, 30 min per night; sleep diaries (manual): per person N(+30, 30) min, 45 per night,
# rounded to 15 min.
WEARABLE_SLEEP = ErrorModel(bias_abs=(1200.0, 900.0), noise_abs=1800.0, rounding=60.0,
                            source="Chinoy 2021 Sleep (PMC8120339): wake specificity 0.18-0.54")
MANUAL_SLEEP = ErrorModel(bias_abs=(1800.0, 1800.0), noise_abs=2700.0, rounding=900.0,
                          source="ASSUMPTION (sleep diary)")

# --- blood pressure -------------------------------------------------------------------
# Home BP devices on their owners vs 2-observer auscultation (Ringrose et al. 2017,
# Am J Hypertens 30(7):683): difference -3.3 (SD 7.3) systolic, +0.9 (SD 6.1) diastolic;
# 69 % of devices off by >= 5 mmHg, 29 % by >= 10, 7 % by >= 15. Split into a device-owner
# bias (most of the SD) and 3 mmHg per reading.
CUFF_SYSTOLIC = ErrorModel(bias_abs=(-3.3, 6.6), noise_abs=3.0, rounding=1.0,
                           source="Ringrose 2017 Am J Hypertens: -3.3 +/- 7.3 mmHg")
CUFF_DIASTOLIC = ErrorModel(bias_abs=(0.9, 5.3), noise_abs=3.0, rounding=1.0,
                            source="Ringrose 2017 Am J Hypertens: +0.9 +/- 6.1 mmHg")
# Typed from a clinic or pharmacy reading: ASSUMPTION, end-digit preference (round to 5).
MANUAL_BP = ErrorModel(bias_abs=(0.0, 3.0), noise_abs=4.0, rounding=5.0, source="ASSUMPTION")

# --- SpO2 -----------------------------------------------------------------------------
# Apple Watch Series 6 vs Masimo Radical-7 (Digital Health 2022, 8:20552076221132127):
# bias 0.0 %, individual differences within 6 % for SpO2 90-100 % (95 % limits -> SD ~3).
# Rings: ASSUMPTION, half that spread.
WATCH_SPO2 = ErrorModel(noise_abs=3.0, rounding=1.0,
                        source="Digital Health 2022 8:20552076221132127: bias 0.0, within 6 %")
RING_SPO2 = ErrorModel(noise_abs=1.5, rounding=1.0, source="ASSUMPTION (finger PPG)")
