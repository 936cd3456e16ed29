"""The PostgreSQL archive backend: one database that many crawl workers share.

core.py connects and retries, schema.py creates and migrates the tables, frontier.py hands
out the frontier's URLs and the hosts' politeness slots across workers.
"""
