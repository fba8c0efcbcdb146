"""Where stats files come from: the local ``STATS_DIR`` watcher (:mod:`.local`) and the
SSH/SFTP poller (:mod:`.ssh`). Both hand new, completely written files to the bot's ingest."""
