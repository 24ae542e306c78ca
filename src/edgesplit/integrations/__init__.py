"""For the apps behind edgesplit: read the signed decision in any web framework
(``app_middleware``), fetch manifests for compact decisions (``manifest_fetcher``), and serve
flags through OpenFeature (``openfeature_provider``)."""
