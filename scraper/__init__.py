"""The scraper job: image-search result pages in a headless browser, images into the store."""
