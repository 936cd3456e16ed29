"""scraper: crawl encyclopedia pages, keep versioned snapshots, diff and export them."""

__version__ = "0.1.0"

__all__ = ["__version__"]
