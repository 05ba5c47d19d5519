
missing
nonexistent.pb