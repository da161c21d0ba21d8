"""CallShield training package."""
