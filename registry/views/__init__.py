"""The plain-Django views of the registry: the download path, the LFS batch API and the portal.
The Hub API routes are DRF views in `registry.api`."""
