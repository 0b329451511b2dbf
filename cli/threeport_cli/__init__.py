"""``tptctl``: the Threeport command line. It talks only to the api-gateway, through the SDK."""
