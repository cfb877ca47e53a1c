"""Local stand-in for the LINE Platform, with a phone-like chat simulator page."""
