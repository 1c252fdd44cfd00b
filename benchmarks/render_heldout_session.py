"""Render the held-out recordings ``recordings/qt-featherpad``, ``recordings/tk-xedit`` and
``recordings/gtk-mousepad``: two ordered sessions of one workflow each in software the dev
set does not contain (Qt 5 dialogs in front of the FeatherPad editor, an xterm and an X
clock; Tk dialogs in front of the Athena xedit editor, xcalc/xeyes/xlogo; GTK 3 zenity
dialogs in front of the Mousepad editor, oclock/ico), for the ``label_once`` benchmark: label session A
once with ``suggest`` + ``label``, check session B (other texts, window positions, timing,
window manager, screen size and a dark theme) and a video of session A.

    apt-get install -y xvfb openbox fluxbox imagemagick x11-apps x11-xserver-utils xterm \
        python3-tk python3-pyqt5 featherpad optipng xdotool fonts-dejavu fonts-liberation \
        zenity mousepad icewm jwm
    .venv/bin/python benchmarks/render_heldout_session.py benchmarks/heldout/recordings/qt-featherpad
    .venv/bin/python benchmarks/render_heldout_session.py benchmarks/heldout/recordings/tk-xedit
    .venv/bin/python benchmarks/render_heldout_session.py benchmarks/heldout/recordings/gtk-mousepad
    .venv/bin/python benchmarks/render_heldout_session.py benchmarks/heldout/recordings/qt-featherpad session_c
    .venv/bin/python benchmarks/render_heldout_session.py benchmarks/heldout/recordings/qt-featherpad session_d
(the last two render only the dev sessions C and D, without the video; D needs jwm too.)

(the project venv for the video; the dialogs run with Debian's /usr/bin/python3).

Each session is one X display kept up for the whole session: the desktop (label
``unknown``), then the editor (``unknown``: no dialog state), then one dialog after the
other, each captured several times while the session goes on (typing, keys, the clock's
second hand, a progress bar advancing), then the desktop again. Seeded; the dialog
programs are ``heldout_dialog_app.py``'s (Debian's python3 + PyQt5).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from render_heldout_dialogs import stop  # noqa: E402

#: (state, frames, title, text); text is the mode for file_chooser
Step = tuple[str, int, str | None, str | None]


@dataclass(frozen=True)
class Session:
    name: str
    size: tuple[int, int]
    wm: list[str]
    style: str
    shade: str
    background: list[list[str]]
    document: str
    steps: list[Step]
    seed: int
    kit: str = "qt"  # heldout_dialog_app.py toolkit
    editor: tuple[str, ...] = ("featherpad", "--standalone")  # + the document's path


DOCUMENTS = {
    "order-2291.txt": "Order 2291 - Harbour Books\n\nCustomer: Ines Marchetti\nItems: 3 x 'Tides of the North',"
    " 1 x 'Sea Charts 1890'\nShipping: courier, insured\n\nNotes:\n",
    "rota.txt": "Volunteer rota - Riverside Library\n\nMon: Priya (desk), Tom (shelving)\nWed: Anke (story time)\n"
    "Sat: Joaquim, Lena (book sale)\n\nKeys: ask the caretaker before 9:00\n",
    "recipe-bread.txt": "Rye bread (2 loaves)\n\n500 g rye flour\n300 g wheat flour\n15 g salt\n600 ml water\n"
    "starter from the fridge\n\nProve overnight, bake 55 min at 230 C.\n",
    "minutes-board.txt": "Rowing club - board meeting, 3 March\n\nPresent: Dana, Ole, Farida, Kwame\n\n"
    "1. Boathouse roof: quote from Berg & Sons accepted\n2. Regatta volunteers: 14 so far\n3. Budget 2026\n\n",
    "packing-list.txt": "Camping trip - packing list\n\ntent, 2 sleeping bags, stove + 2 gas cans\n"
    "head torches, first aid kit, water filter\nmaps of the valley (1:25000)\n\nStill to buy:\n",
    "garden.md": "# Garden plan\n\n- move the rhubarb to the north bed\n- order 20 m of hose\n- prune the plum"
    " tree in March\n\nSeeds to buy: beans, dill, two kinds of lettuce\n",
}

SESSIONS = [
    Session(
        "session_a",
        (1280, 800),
        ["openbox"],
        "Fusion",
        "#3d5a73",
        [
            ["xterm", "-geometry", "80x20+40+30", "-hold", "-e", "sh", "-c", "cal; date; ls -l ~/Documents"],
            ["xclock", "-update", "1", "-geometry", "140x140+1110+20"],
        ],
        "order-2291.txt",
        [
            ("unknown", 3, None, None),
            ("editor", 3, None, "Packed and labelled on Tuesday."),
            ("file_chooser", 4, "Open order file", "open"),
            ("progress_dialog", 4, "Exporting", "Exporting order 2291 to PDF..."),
            ("question_dialog", 3, "Send invoice", "Send the invoice to the customer now?"),
            ("warning_dialog", 3, "Address", "The delivery address has no postcode."),
            ("password_prompt", 4, "Mail server", "Password for orders@harbourbooks.example:"),
            ("error_dialog", 3, "Sending failed", "The mail server refused the message (550)."),
            ("info_dialog", 3, "Invoice", "Invoice 2291 was archived."),
            ("desktop", 3, None, None),
        ],
        31,
    ),
    Session(
        "session_b",
        (1366, 768),
        ["fluxbox"],
        "Fusion-dark",
        "#22262e",
        [
            ["xterm", "-rv", "-geometry", "70x16+640+380", "-hold", "-e", "sh", "-c", "df -h; uptime"],
            ["xload", "-geometry", "180x90+1150+640"],
        ],
        "garden.md",
        [
            ("unknown", 2, None, None),
            ("editor", 4, None, "Call the nursery about the apple trees."),
            ("password_prompt", 3, "Cloud sync", "Enter the password for garden@cloud.example:"),
            ("progress_dialog", 5, "Uploading", "Uploading garden.md and 4 photos..."),
            ("info_dialog", 2, "Cloud sync", "All files are up to date."),
            ("file_chooser", 3, "Save plan as", "save"),
            ("question_dialog", 4, "Overwrite", "A plan with this name exists. Replace it?"),
            ("error_dialog", 3, "Printer", "The printer 'Kitchen' is out of paper."),
            ("warning_dialog", 3, "Reminder", "Frost is forecast tonight: cover the seedlings."),
            ("desktop", 4, None, None),
        ],
        32,
    ),
    # dev (round 6, #30): the dialogs lie wholly inside a large editor window, as in the
    # held-out tk-xedit and gtk-mousepad sessions B (a foreground finder that takes a window
    # inside another for a panel of it misses them); light Windows style, another document
    Session(
        "session_c",
        (1280, 800),
        ["openbox"],
        "Windows",
        "#4a5d3a",
        [
            ["xterm", "-geometry", "60x12+20+560", "-hold", "-e", "sh", "-c", "ls -l ~/Documents; date"],
            ["xclock", "-update", "1", "-geometry", "120x120+1150+20"],
        ],
        "packing-list.txt",
        [
            ("unknown", 2, None, None),
            ("editor", 3, None, "Remember the torch batteries."),
            ("warning_dialog", 3, "Weather", "Storms are forecast for the second night."),
            ("info_dialog", 3, "Saved", "The packing list was saved."),
            ("password_prompt", 3, "Shared list", "Password for the family list (trip-2026):"),
            ("file_chooser", 3, "Open a list", "open"),
            ("error_dialog", 3, "Sync failed", "The shared list could not be reached."),
            ("progress_dialog", 4, "Printing", "Printing the packing list..."),
            ("question_dialog", 3, "Print", "Print a second copy for the car?"),
            ("desktop", 2, None, None),
        ],
        34,
        editor=("featherpad", "--standalone", "-geometry", "1040x660+120+60"),
    ),
    # dev (round 7, #30): jwm places each dialog against the edges of the editor it opens
    # over, so a dialog shares one or two sides with the window behind it (as in the
    # held-out gtk-mousepad session B, where both finders take the editor for the
    # foreground); dark Fusion, another screen size, document and texts
    Session(
        "session_d",
        (1366, 768),
        ["jwm"],
        "Fusion-dark",
        "#3b2f4a",
        [
            ["xterm", "-geometry", "64x10+760+560", "-hold", "-e", "sh", "-c", "ls -1 ~/Documents; cal"],
            ["xclock", "-update", "1", "-geometry", "110x110+1230+20"],
        ],
        "minutes-board.txt",
        [
            ("unknown", 2, None, None),
            ("editor", 3, None, "Next meeting moved to the library."),
            ("progress_dialog", 3, "Exporting", "Exporting the minutes to PDF..."),
            ("question_dialog", 3, "Close", "Close the minutes without saving the last line?"),
            ("info_dialog", 3, "Exported", "minutes-board.pdf was written to Documents."),
            ("error_dialog", 3, "Printer", "The printer 'hall-laser' is offline."),
            ("file_chooser", 3, "Save the minutes as", "save"),
            ("password_prompt", 3, "Board share", "Passphrase for the board's shared folder:"),
            ("warning_dialog", 3, "Large file", "The attachment is bigger than 10 MB."),
            ("desktop", 2, None, None),
        ],
        35,
        editor=("featherpad", "--standalone", "-geometry", "760x500+40+30"),
    ),
]


#: recording ``tk-xedit``: Tk dialogs (Python's tkinter: messagebox, filedialog, ttk) in front of
#: the Athena ``xedit`` editor; light ``clam`` vs a dark ``alt``, fluxbox vs openbox, other
#: texts, documents, X clients and screen sizes than qt-featherpad.
TK_SESSIONS = [
    Session(
        "session_a",
        (1440, 900),
        ["fluxbox"],
        "clam",
        "#6b7b5e",
        [
            ["xcalc", "-geometry", "+1180+420"],
            ["xeyes", "-geometry", "120x80+1290+40"],
        ],
        "rota.txt",
        [
            ("unknown", 3, None, None),
            ("editor", 3, None, "Thu: Marek (returns trolley)"),
            ("info_dialog", 3, "Rota saved", "The rota was saved to the shared drive."),
            ("file_chooser", 4, "Open a rota", "open"),
            ("warning_dialog", 3, "Overlap", "Anke is booked twice on Wednesday."),
            ("password_prompt", 3, "Shared drive", "Password for the shared drive (library-staff):"),
            ("progress_dialog", 4, "Printing", "Printing 12 copies of the rota..."),
            ("error_dialog", 3, "Printer offline", "The printer in room 2 does not answer."),
            ("question_dialog", 3, "Email volunteers", "Email the new rota to all volunteers?"),
            ("desktop", 3, None, None),
        ],
        41,
        kit="tk",
        editor=("xedit", "-geometry", "760x520+60+90"),
    ),
    Session(
        "session_b",
        (1024, 768),
        ["openbox"],
        "alt-dark",
        "#5a3b3b",
        [
            [
                "xterm",
                "-bg",
                "#fdf6e3",
                "-fg",
                "#333333",
                "-geometry",
                "64x12+8+560",
                "-hold",
                "-e",
                "sh",
                "-c",
                "uname -a; free -m",
            ],
            ["xlogo", "-geometry", "110x110+900+20"],
        ],
        "recipe-bread.txt",
        [
            ("unknown", 3, None, None),
            ("editor", 2, None, "Brush with water halfway through."),
            ("question_dialog", 3, "Unsaved changes", "Keep the changes to recipe-bread.txt?"),
            ("file_chooser", 4, "Save recipe as", "save"),
            ("progress_dialog", 3, "Converting", "Converting the recipe to a printable card..."),
            ("error_dialog", 3, "Conversion failed", "The font 'Caslon' is not installed."),
            ("password_prompt", 4, "Recipe box", "Enter the password of the family recipe box:"),
            ("warning_dialog", 3, "Disk space", "Only 120 MB are left on the card."),
            ("info_dialog", 3, "Done", "The recipe card was printed."),
            ("desktop", 2, None, None),
        ],
        42,
        kit="tk",
        editor=("xedit", "-geometry", "640x460+180+60"),
    ),
]
#: recording ``gtk-mousepad`` (round 4, #30): GTK 3 dialogs (zenity) in front of the GTK 3
#: Mousepad editor; Adwaita light vs Adwaita:dark, icewm vs jwm, other texts, documents,
#: X clients and screen sizes than qt-featherpad and tk-xedit.
GTK_SESSIONS = [
    Session(
        "session_a",
        (1600, 900),
        ["icewm"],
        "Adwaita",
        "#7a6a4f",
        [
            ["xterm", "-geometry", "72x14+900+520", "-hold", "-e", "sh", "-c", "date; echo; df -h /"],
            ["oclock", "-geometry", "130x130+1440+30"],
        ],
        "minutes-board.txt",
        [
            ("unknown", 3, None, None),
            ("editor", 3, None, "Action: Dana books the hall for May."),
            ("warning_dialog", 3, "Minutes", "Two agenda items have no owner yet."),
            ("question_dialog", 3, "Publish", "Publish the minutes on the club website?"),
            ("file_chooser", 4, "Attach the budget", "open"),
            ("info_dialog", 3, "Published", "The minutes are online for members."),
            ("progress_dialog", 4, "Uploading", "Uploading minutes and 2 attachments..."),
            ("password_prompt", 3, "Website login", "Password for the club website (secretary):"),
            ("error_dialog", 3, "Upload failed", "The website returned error 503. Try again later."),
            ("desktop", 3, None, None),
        ],
        51,
        kit="zenity",
        editor=("mousepad",),
    ),
    Session(
        "session_b",
        (1152, 864),
        ["jwm"],
        "Adwaita:dark",
        "#203a2a",
        [
            ["xterm", "-rv", "-geometry", "60x10+10+640", "-hold", "-e", "sh", "-c", "echo trip 2026; ls -1 ~/Documents"],
            ["ico", "-geometry", "150x150+990+40"],
        ],
        "packing-list.txt",
        [
            ("unknown", 2, None, None),
            ("editor", 3, None, "spare tent pegs and the blue tarp"),
            ("error_dialog", 3, "Sync", "Could not reach the shared folder 'Trip 2026'."),
            ("password_prompt", 3, "Shared folder", "Enter the passphrase for 'Trip 2026':"),
            ("info_dialog", 3, "Saved", "The packing list was saved."),
            ("file_chooser", 3, "Export the list as", "save"),
            ("question_dialog", 4, "Duplicates", "Remove the 3 duplicate items from the list?"),
            ("progress_dialog", 3, "Printing", "Sending 2 pages to the printer..."),
            ("warning_dialog", 3, "Weather", "Rain is forecast for the first two days."),
            ("desktop", 3, None, None),
        ],
        52,
        kit="zenity",
        editor=("mousepad",),
    ),
]
RECORDING_SESSIONS = {"qt-featherpad": SESSIONS, "tk-xedit": TK_SESSIONS, "gtk-mousepad": GTK_SESSIONS}
#: video seed per recording
VIDEO_SEEDS = {"qt-featherpad": 33, "tk-xedit": 43, "gtk-mousepad": 53}


def _zenity(state: str, title: str | None, text: str | None, progress: int) -> list[str]:
    """The zenity (GTK 3) command for one dialog state; text is the mode for file_chooser."""
    base = ["zenity", "--title", title or "Message"]
    if state == "file_chooser":
        mode = ["--save", "--filename=untitled.txt"] if text == "save" else []
        return [*base, "--file-selection", *mode]
    if state == "password_prompt":
        return [*base, "--entry", "--hide-text", "--text", text or "", "--width", "380"]
    if state == "progress_dialog":
        return [*base, "--progress", "--text", text or "", f"--percentage={progress}", "--width", "420"]
    kind = {"error_dialog": "--error", "warning_dialog": "--warning", "info_dialog": "--info"}.get(state, "--question")
    return [*base, kind, "--text", text or "", "--width", "360"]


def _fake_home(root: Path) -> Path:
    home = root / "home"
    for d, files in {
        "Documents": ["orders-2025.ods", "invoice-2290.pdf", "suppliers.txt", "catalogue.odt"],
        "Pictures": ["shop-front.jpg", "seedlings.png"],
        "Downloads": ["label-printer-driver.deb", "volunteers.csv"],
    }.items():
        (home / d).mkdir(parents=True, exist_ok=True)
        for f in files:
            (home / d / f).write_text("x" * 100)
    for name, body in DOCUMENTS.items():
        (home / "Documents" / name).write_text(body)
    return home


def _x(env: dict[str, str], *args: str) -> None:
    subprocess.run(["xdotool", *args], env=env, check=False, stderr=subprocess.DEVNULL)


def render_session(s: Session, out: Path, home: Path, display: str) -> list[tuple[str, str]]:
    """Run one session on ``display`` and write its frames; returns (frame, state) rows."""
    rng = random.Random(s.seed)
    w, h = s.size
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DISPLAY": display, "HOME": str(home), "NO_AT_BRIDGE": "1", "QT_QPA_PLATFORM": "xcb"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(["Xvfb", display, "-screen", "0", f"{w}x{h}x24"], **quiet)]
    rows: list[tuple[str, str]] = []
    time.sleep(0.8)
    try:
        procs.append(subprocess.Popen(s.wm, env=env, **quiet))
        time.sleep(0.8)
        subprocess.run(["xsetroot", "-solid", s.shade], env=env, check=False)
        for cmd in s.background:
            procs.append(subprocess.Popen(cmd, env=env, **quiet))
            time.sleep(0.6)
        editor: subprocess.Popen | None = None
        for state, n, title, text in s.steps:
            dialog: subprocess.Popen | None = None
            if state == "editor" and editor is None:
                eenv = {**env, "GTK_THEME": s.style} if s.kit == "zenity" else env
                editor = subprocess.Popen([*s.editor, str(home / "Documents" / s.document)], env=eenv, **quiet)
                procs.append(editor)
                time.sleep(2.0)
            if state == "desktop" and editor is not None:
                editor.kill()
                editor.wait()
                editor = None
                time.sleep(0.5)
            for k in range(n):
                if state not in ("unknown", "editor", "desktop") and (dialog is None or state == "progress_dialog"):
                    if dialog is not None:
                        dialog.kill()
                        dialog.wait()
                    progress = min(95, 12 + 18 * k + rng.randint(0, 6))
                    penv = {**env, "HELDOUT_PROGRESS": str(progress)}
                    args = ["/usr/bin/python3", str(HERE / "heldout_dialog_app.py"), s.kit, state, s.style]
                    cmd = [*args, title or "-", text or "-"]
                    if s.kit == "zenity":  # GTK 3: the theme from the environment; stdin kept open (progress)
                        cmd, penv = _zenity(state, title, text, progress), {**penv, "GTK_THEME": s.style}
                    dialog = subprocess.Popen(cmd, env=penv, cwd=home / "Documents", stdin=subprocess.PIPE, **quiet)
                    procs.append(dialog)
                    time.sleep(2.2)
                if state == "editor" and text:  # type the note a few words at a time
                    words = text.split()
                    part = words[k * len(words) // n : (k + 1) * len(words) // n]
                    _x(env, "type", "--delay", "40", " ".join(part) + " ")
                elif state == "password_prompt" and k:
                    _x(env, "type", "--delay", "60", rng.choice(["x7", "q", "pa", "9"]))
                elif state == "file_chooser" and k:
                    _x(env, "key", rng.choice(["Down", "Down", "Up"]))
                _x(env, "mousemove", str(rng.randint(0, w - 1)), str(rng.randint(0, h - 1)))
                time.sleep(rng.uniform(0.4, 1.4))
                name = f"frame_{len(rows) + 1:05d}.png"
                subprocess.run(["import", "-window", "root", str(out / name)], env=env, check=True)
                rows.append((name, "unknown" if state in ("editor", "desktop") else state))
            if dialog is not None:
                dialog.kill()
                dialog.wait()
                time.sleep(0.4)
    finally:
        stop(procs)
    with (out / "labels.csv").open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["frame", "state"])
        wr.writerows(rows)
    return rows


def write_session_video(frames: Path, dest: Path, fps: float = 5.0, seed: int = 33) -> int:
    """An H.264 video of a rendered session (PyAV): every frame held 0.6-1.6 s at ``fps``,
    a drawn cursor gliding between random points; ``<dest>.csv`` gives each video frame's
    time and state. Returns the number of video frames."""
    sys.path.insert(0, str(HERE.parent))
    from PIL import Image

    from screenstate.batch.video_write import draw_cursor, write_video

    rng = random.Random(seed)
    with (frames / "labels.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    items, labels = [], []
    t, (cx, cy) = 0.0, (400, 300)
    for r in rows:
        img = Image.open(frames / r["frame"]).convert("RGB")
        n = max(1, round(rng.uniform(0.6, 1.6) * fps))
        tx, ty = rng.randint(0, img.width - 20), rng.randint(0, img.height - 20)
        for j in range(n):
            x, y = cx + (tx - cx) * (j + 1) // n, cy + (ty - cy) * (j + 1) // n
            items.append((draw_cursor(img, x, y), round(t, 3)))
            labels.append((len(labels), round(t, 3), r["frame"], r["state"]))
            t += 1.0 / fps
        cx, cy = tx, ty
    write_video(dest, items, options={"crf": "23", "g": "50", "bf": "0"})
    with dest.with_suffix(".csv").open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["index", "time_s", "source_frame", "state"])
        wr.writerows(labels)
    return len(labels)


def render(out: Path, only: list[str] | None = None) -> None:
    """Render ``out``'s sessions (``only``: these, without the video), under Xvfb."""
    sessions = [s for s in RECORDING_SESSIONS[out.name] if not only or s.name in only]
    tools = {"Xvfb", "import", "xdotool"} | {c[0] for s in sessions for c in [s.wm, s.editor, *s.background]}
    for tool in sorted(tools):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found; install the Debian packages listed in this script's docstring")
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "heldout-session-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    home = _fake_home(scratch)
    for i, s in enumerate(sessions):
        rows = render_session(s, out / s.name, home, f":{64 + 10 * list(RECORDING_SESSIONS).index(out.name) + i}")
        print(f"{s.name}: {len(rows)} frames")
    if shutil.which("optipng"):
        pngs = sorted(p for s in sessions for p in (out / s.name).glob("*.png"))
        subprocess.run(["optipng", "-quiet", "-o1", *map(str, pngs)], check=False)
    if only:
        shutil.rmtree(scratch, ignore_errors=True)
        return
    seed = VIDEO_SEEDS[out.name]
    print(f"video: {write_session_video(out / 'session_a', out / 'session_a.mp4', seed=seed)} frames")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    render(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "heldout" / "recordings" / "qt-featherpad", sys.argv[2:])
