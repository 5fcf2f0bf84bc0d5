"""Argon2id with the parameters OWASP's Password Storage Cheat Sheet gives for it: 19 MiB of
memory, 2 iterations, 1 degree of parallelism. Django's own Argon2 hasher uses other defaults;
a subclass is how Django asks to change them. Hashes made with other parameters (or other
algorithms) are upgraded at the account's next sign-in."""

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    algorithm = "argon2"
    time_cost = 2
    memory_cost = 19 * 1024  # KiB
    parallelism = 1
