"""The published DEMO recipients of the example fleet: any fleet still encrypting to them is flagged."""

from __future__ import annotations

# From src/beskar/examples/fleet/demo-keys/ (their private keys ship with Beskar: they protect nothing).
DEMO_RECIPIENTS = {
    "age1yjm7llkga8aagvjmlrkanwc9h2mlq9gm9j24tssyklyn5z70qswqgec5q3": "DEMO-operator",
    "age1qkfylmzpduxqjhvzqw7f8hgn588epxqcufzyf5s42twxuptdvd8qln24tz": "DEMO-prod-brno",
    "age1qlh9980qpzj7smhupuwsd2xkv39846e24u0cchv8y96xnuk3yekstr3wxl": "DEMO-prod-ostrava",
}

