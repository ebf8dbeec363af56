"""What every JSON API router shares, at the bottom of the dependency graph.

A plain package (no models, imports no app): the error shape and the registry each app
puts its exceptions in (``errors``), the string types that keep control characters and
lone surrogates out (``fields``), the body rules (``bodies``) and the error responses
every operation documents (``openapi``). ``eda_console.api`` wires them into the API.
"""
