"""Who may use an instance: the web UI's users (`users`) and their sign-ins (`sessions`), and API
tokens (`tokens`). Each is stored in the instance database; secrets only as hashes."""
