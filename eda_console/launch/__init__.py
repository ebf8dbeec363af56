"""The run command's launcher: ``python -m eda_console.launch`` (what ``make demo`` runs)."""
