"""The HTTP service: FastAPI app, authentication, RBAC, audit log and run streaming.

Nothing here is imported by ``import cadenza``; ``cadenza serve`` and ``create_app`` load it.
"""
