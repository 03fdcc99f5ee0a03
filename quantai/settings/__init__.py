"""Settings package: ``base`` holds everything, the other modules adjust it per environment.

``local`` (the default of ``manage.py``) serves a newcomer with no environment at all,
``test`` is what pytest uses, ``production`` reads every secret from the environment.
"""
