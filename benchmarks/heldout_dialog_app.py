"""Show one real Tk or Qt dialog (or an app window) and wait to be killed: the program
``render_heldout_desktop.py`` starts under Xvfb. Runs with Debian's python3 (python3-tk,
python3-pyqt5), not the project venv.

    python3 heldout_dialog_app.py tk|qt STATE STYLE TITLE TEXT

STATE is a dev state name (error_dialog ... file_chooser); STYLE a Tk theme (clam, alt,
default, classic; ``-dark`` adds a dark palette) or a Qt style (Fusion, Windows, Fusion-dark). TITLE/TEXT may be "-".
"""

from __future__ import annotations

import os
import sys


def _progress(text: str | None) -> int:
    """Progress bar value: ``HELDOUT_PROGRESS`` (a recorded session advancing it), else from the text."""
    return int(os.environ.get("HELDOUT_PROGRESS") or 10 + (len(text or "") * 7) % 80)


def tk_main(state: str, style: str, title: str | None, text: str | None) -> None:
    import tkinter as tk
    from tkinter import filedialog, messagebox, ttk

    root = tk.Tk()
    root.withdraw()
    theme = ttk.Style(root)
    theme.theme_use(style.split("-")[0])
    if style.endswith("-dark"):  # a dark palette for classic Tk widgets and the ttk theme
        root.tk_setPalette(
            background="#2e2e2e",
            foreground="#e8e8e8",
            activeBackground="#444444",
            selectBackground="#3a6ea5",
            insertBackground="#e8e8e8",
        )
        theme.configure(
            ".", background="#2e2e2e", foreground="#e8e8e8", fieldbackground="#1e1e1e", insertcolor="#e8e8e8"
        )
    kw = {"title": title or "Message"}
    if state in ("error_dialog", "warning_dialog", "info_dialog", "question_dialog"):
        fn = {
            "error_dialog": messagebox.showerror,
            "warning_dialog": messagebox.showwarning,
            "info_dialog": messagebox.showinfo,
            "question_dialog": messagebox.askyesno if len(text or "") % 2 else messagebox.askokcancel,
        }[state]
        fn(message=text or "", **kw)
        return
    if state == "file_chooser":
        mode = text or "open"
        home = os.path.expanduser("~/Documents")
        if mode == "save":
            filedialog.asksaveasfilename(initialdir=home, initialfile="untitled.txt", **kw)
        elif mode == "directory":
            filedialog.askdirectory(initialdir=home, **kw)
        else:
            filedialog.askopenfilename(initialdir=home, **kw)
        return
    win = tk.Toplevel(root)
    win.title(title or "")
    frame = ttk.Frame(win, padding=16)
    frame.pack(fill="both", expand=True)
    if state == "password_prompt":
        ttk.Label(frame, text=text or "Password:").grid(row=0, column=0, columnspan=2, sticky="w", pady=(0, 8))
        entry = ttk.Entry(frame, show="*", width=32)
        entry.grid(row=1, column=0, columnspan=2, sticky="we")
        entry.insert(0, "hunter22")
        ttk.Button(frame, text="Cancel").grid(row=2, column=0, sticky="e", pady=(12, 0), padx=4)
        ttk.Button(frame, text="OK").grid(row=2, column=1, sticky="e", pady=(12, 0))
    else:  # progress_dialog
        ttk.Label(frame, text=text or "").pack(anchor="w", pady=(0, 8))
        bar = ttk.Progressbar(frame, length=360, mode="determinate", maximum=100)
        bar["value"] = _progress(text)
        bar.pack(fill="x")
        ttk.Button(frame, text="Cancel").pack(anchor="e", pady=(12, 0))
    win.update_idletasks()
    w, h = win.winfo_reqwidth(), win.winfo_reqheight()
    win.geometry(f"+{(win.winfo_screenwidth() - w) // 2}+{(win.winfo_screenheight() - h) // 2}")
    root.mainloop()


def qt_main(state: str, style: str, title: str | None, text: str | None) -> None:
    from PyQt5.QtGui import QColor, QPalette
    from PyQt5.QtWidgets import QApplication, QFileDialog, QInputDialog, QLineEdit, QMessageBox, QProgressDialog

    app = QApplication(sys.argv[:1])
    app.setStyle(style.split("-")[0])
    if style.endswith("-dark"):
        pal = QPalette()
        for role, color in [
            (QPalette.Window, "#353535"),
            (QPalette.WindowText, "#eeeeee"),
            (QPalette.Base, "#252525"),
            (QPalette.AlternateBase, "#353535"),
            (QPalette.Text, "#eeeeee"),
            (QPalette.Button, "#353535"),
            (QPalette.ButtonText, "#eeeeee"),
            (QPalette.Highlight, "#2a82da"),
            (QPalette.HighlightedText, "#000000"),
        ]:
            pal.setColor(role, QColor(color))
        app.setPalette(pal)
    t = title or ""
    if state in ("error_dialog", "warning_dialog", "info_dialog", "question_dialog"):
        icon = {
            "error_dialog": QMessageBox.Critical,
            "warning_dialog": QMessageBox.Warning,
            "info_dialog": QMessageBox.Information,
            "question_dialog": QMessageBox.Question,
        }[state]
        buttons = QMessageBox.Yes | QMessageBox.No if state == "question_dialog" else QMessageBox.Ok
        QMessageBox(icon, t, text or "", buttons).exec_()
    elif state == "file_chooser":
        home = os.path.expanduser("~/Documents")
        opts = QFileDialog.DontUseNativeDialog
        if text == "save":
            QFileDialog.getSaveFileName(None, t, home + "/untitled.odt", options=opts)
        elif text == "directory":
            QFileDialog.getExistingDirectory(None, t, home, options=opts | QFileDialog.ShowDirsOnly)
        else:
            QFileDialog.getOpenFileName(None, t, home, "All files (*)", options=opts)
    elif state == "password_prompt":
        QInputDialog.getText(None, t, text or "Password:", QLineEdit.Password, "hunter22")
    else:
        dlg = QProgressDialog(text or "", "Cancel", 0, 100)
        dlg.setWindowTitle(t)
        dlg.setMinimumDuration(0)
        dlg.setValue(_progress(text))
        dlg.show()
        app.exec_()


if __name__ == "__main__":
    kit, state, style, title, text = sys.argv[1:6]
    (tk_main if kit == "tk" else qt_main)(state, style, None if title == "-" else title, None if text == "-" else text)
