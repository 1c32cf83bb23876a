"""Ansible callback plugins the runner points ansible-playbook at (a plugin dir, not an API)."""
