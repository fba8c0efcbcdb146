"""Where stats files come from: a local folder watcher (more sources can follow)."""
