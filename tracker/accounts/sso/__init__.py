"""Single sign-on on django-allauth: Feishu/Lark and DingTalk (allauth's providers, with their
endpoints read from settings so a Lark tenant, or a test's loopback server, can be named),
WeCom (no allauth provider exists: written here on allauth's OAuth2 provider API) and any
OpenID Connect provider (allauth's, used as it is).

The chat platforms' providers also say which chat account signed in (`ChatProfile`), so the
integrations layer can link it to the person without knowing the platforms' answers."""
