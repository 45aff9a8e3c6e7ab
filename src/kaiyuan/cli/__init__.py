"""The `kaiyuan` command."""
