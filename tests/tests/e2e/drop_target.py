#!/usr/bin/python3
# A minimal XDND drop target for the drag-out test: a GTK3 window that takes file URIs as a file
# manager does, copying each dropped file or folder into the folder given, then says so and
# quits. Placed at (1000, 80), on top of the app's window.
import os
import shutil
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

dest = sys.argv[1]


def received(widget, ctx, x, y, data, info, time):
    uris = data.get_uris() or []
    for uri in uris:
        path, _ = GLib.filename_from_uri(uri)
        target = os.path.join(dest, os.path.basename(path))
        if os.path.isdir(path):
            shutil.copytree(path, target)
        else:
            shutil.copy2(path, target)
    print(f"dropped {len(uris)}", flush=True)
    GLib.timeout_add(300, Gtk.main_quit)


win = Gtk.Window(title="droptarget")
win.set_default_size(260, 200)
label = Gtk.Label(label="DROP HERE")
label.drag_dest_set(Gtk.DestDefaults.ALL, [], Gdk.DragAction.COPY)
label.drag_dest_add_uri_targets()
label.connect("drag-data-received", received)
win.add(label)
win.connect("destroy", Gtk.main_quit)
win.move(1000, 80)
win.show_all()
Gtk.main()
