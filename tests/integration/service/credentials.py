"""The test service's credentials: canaries, so a test can tell when one shows where it must not."""

SECRET = "whsec-canary-7f3a9c1e5b2d4f60"
TOKEN = "tok-canary-2b8e4d6a1c3f5e79"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
