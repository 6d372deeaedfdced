#!/usr/bin/python3
# A minimal XDND drag source for the drop tests: a GTK3 button that drags the given paths as
# file URIs, as a file manager does. Placed at (950, 100), on top of the app's window.
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

uris = [GLib.filename_to_uri(p, None) for p in sys.argv[1:]]
win = Gtk.Window(title="dragsrc")
win.set_default_size(200, 120)
button = Gtk.Button(label="DRAG ME")
button.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
button.drag_source_add_uri_targets()
button.connect("drag-data-get", lambda w, ctx, data, info, time: data.set_uris(uris))
button.connect("drag-end", lambda *a: print("drag-end", flush=True))
win.add(button)
win.connect("destroy", Gtk.main_quit)
win.move(950, 100)
win.show_all()
Gtk.main()
