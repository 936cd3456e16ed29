"""`python -m scraper` runs the command line."""

from scraper.cli import main

# Guarded: a crawl's parse workers are started with spawn, which imports this module again
# (as __mp_main__) in each of them.
if __name__ == "__main__":
    main()
