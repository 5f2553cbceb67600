"""Spreadsheets in (`importing`) and out (`exporting`): CSV and XLSX."""
