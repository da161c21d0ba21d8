"""CallShield overlay package."""
