"""The only code that talks to the outside: git, and later Kubernetes, OpenStack, MAAS and Ansible."""
