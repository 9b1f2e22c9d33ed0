"""Fall detection: on video (body state from pose), on body-worn sensors, and the alarm that follows."""
