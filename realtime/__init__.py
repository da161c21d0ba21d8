"""CallShield realtime package."""
