"""`KeyFooter`: Textual's `Footer`, rebuilt only when the keys it shows change."""

from collections.abc import Hashable

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    """The footer of a screen: the same keys, drawn the same way as `Footer`.

    `Footer` recomposes its ~20 key widgets whenever the screen says its bindings
    may have changed: on every push, resume and `refresh_bindings()`. Mounting and
    styling those widgets was half the time it took to open a case; when the keys,
    their labels and their enabled states are what is already shown, this one
    keeps them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: Hashable | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        keys = self._keys(screen)
        if keys == self._shown and self._bindings_ready:
            return
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            self._shown = keys  # what the recompose about to run will show
        super().bindings_changed(screen)

    def _keys(self, screen: Screen[object]) -> Hashable:
        app = self.app
        return (
            self.compact,
            self.show_command_palette,
            tuple(
                (
                    binding.key,
                    app.get_key_display(binding),
                    binding.action,
                    binding.description,
                    binding.show,
                    binding.group,
                    enabled,
                    tooltip,
                )
                for _node, binding, enabled, tooltip in screen.active_bindings.values()
            ),
        )
