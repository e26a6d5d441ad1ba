"""The registry's views outside the Hub API: the download path (plain Django, the hottest route),
the Git LFS batch API (DRF, its own media type) and its signed transfers, and the portal's pages.
The Hub API routes are DRF views in `registry.api`."""
