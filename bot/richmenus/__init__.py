"""Rich menus: drawing layout menus, and keeping LINE's menus and aliases in step with the
scenario (created once per content, found again by hash, stale ones deleted)."""
