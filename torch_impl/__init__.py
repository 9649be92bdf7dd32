"""The notes, written with torch: file for file and name for name the twins of `scratch/`."""
