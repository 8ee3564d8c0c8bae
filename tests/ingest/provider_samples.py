"""Provider payloads from the providers' published samples (source cited beside each),
as raw bytes, for the source-management and authentication tests."""

from __future__ import annotations

import json

# Terra: the successful `auth` event shown in "Handling authentication events",
# https://docs.tryterra.co/health-and-fitness-api/user-authentication/handling-authentication-events
TERRA_AUTH = json.dumps({
    "type": "auth",
    "status": "success",
    "widget_session_id": "a9a0c7a4-c05e-4550-a973-f87a31a7c558",
    "user": {
        "scopes": "COURSE_IMPORT,WORKOUT_IMPORT,ACTIVITY_EXPORT,HEALTH_EXPORT",
        "active": True,
        "last_webhook_update": None,
        "created_at": "2024-10-07T03:45:00.000000+00:00",
        "user_id": "4735eac4-31a2-47ef-8b11-51e98d84c680",
        "reference_id": "tony_stark",
        "provider": "GARMIN",
    },
    "reference_id": "tony_stark",
    "message": "User has successfully authenticated",
    "version": "2022-03-16",
}, indent=4).encode()

# Junction: "Example: Provider connection created",
# https://docs.junction.com/webhooks/event-structure.md
JUNCTION_CONNECTION_CREATED = json.dumps({
    "data": {
        "source": {
            "logo": "https://storage.googleapis.com/vital-assets/freestyle.png",
            "name": "Freestyle Libre BLE",
            "slug": "freestyle_libre_ble",
        },
        "user_id": "4a29dbc7-6db3-4c83-bfac-70a20a4be1b2",
    },
    "event_type": "provider.connection.created",
    "user_id": "4a29dbc7-6db3-4c83-bfac-70a20a4be1b2",
    "client_user_id": "01HW3FSNVCHC3B2QB5N0ZAAAVG",
    "team_id": "6b74423d-0504-4470-9afb-477252ccf67a",
}).encode()

# Garmin Health API push, the daily summary example of Garmin's Health API spec as
# reproduced in RADAR-base/RADAR-PushEndpoint,
# src/integrationTest/kotlin/org/radarbase/push/integration/garmin/utils/GarminHealthData.kt
# (DAILIES, second entry, heart-rate samples and goals abridged).
GARMIN_DAILIES = json.dumps({"dailies": [{
    "userId": "sub-2",
    "userAccessToken": "dummy-access-token",
    "summaryId": "EXAMPLE 67892",
    "activityType": "WALKING",
    "activeKilocalories": 304,
    "bmrKilocalories": 1225,
    "consumedCalories": 1926,
    "steps": 3305,
    "distanceInMeters": 2470.1,
    "durationInSeconds": 86400,
    "activeTimeInSeconds": 7,
    "startTimeInSeconds": 1452556800,
    "startTimeOffsetInSeconds": 3600,
    "minHeartRateInBeatsPerMinute": 62,
    "averageHeartRateInBeatsPerMinute": 67,
    "maxHeartRateInBeatsPerMinute": 122,
    "restingHeartRateInBeatsPerMinute": 64,
    "timeOffsetHeartRateSamples": {"15": 77, "30": 72, "3180": 71},
}]}).encode()
