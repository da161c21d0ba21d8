"""CallShield engines package."""
