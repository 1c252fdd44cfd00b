"""Render the held-out set ``desktop-swing``: real Java Swing dialogs (JOptionPane,
ProgressMonitor, JFileChooser; Metal, Ocean, Nimbus and Motif looks) in front of real
Athena/X11 applications and a terminal, under window managers the other sets do not use.
Texts are our own, written for this set before any result was seen.

    apt-get install -y xvfb imagemagick x11-apps x11-xserver-utils openjdk-17-jdk-headless openjdk-17-jre \
        icewm jwm fluxbox twm rxvt-unicode fonts-dejavu
    python benchmarks/render_heldout_swing.py benchmarks/heldout/desktop-swing

Seeded; 8 screens per state (two per Swing look), full-screen captures (``import -window
root``) under Xvfb, 0-3 windows behind the dialog (urxvt running a command, xedit editing
a document, xload, xlogo, xeyes). The dialog program is ``HeldoutSwingDialog.java``
(compiled once with javac).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from render_heldout_dialogs import shot, stop  # noqa: E402

TEXTS: dict[str, list[tuple[str | None, str]]] = {
    "error_dialog": [
        ("Save failed", "Could not write report.odt: the disk is write-protected."),
        (None, "The server returned an unexpected response (code 500)."),
        ("Scanner", "The scanner stopped responding. Check the USB cable."),
        ("Open file", "budget.xlsx is damaged and cannot be opened."),
        ("Payment", "The card was declined by the bank."),
        (None, "Unable to start the service: port 8080 is already in use."),
        ("Update failed", "The update could not be applied. Nothing was changed."),
        ("Sync error", "Your calendar could not be synchronised. Try again later."),
    ],
    "warning_dialog": [
        ("Battery low", "Battery at 7 %. Connect the charger soon."),
        (None, "This operation cannot be undone."),
        ("Certificate", "The certificate of intranet.local has expired."),
        ("Overwrite", "Files in the target folder may be replaced."),
        ("Memory", "The program is running low on memory. Save your work."),
        ("Unverified sender", "This message was sent from an address that could not be verified."),
        (None, "Some fonts used in this document are missing and were substituted."),
        ("Quota", "Your mailbox is 95 % full."),
    ],
    "info_dialog": [
        ("About", "Inventory Manager 3.2\nCopyright 2024 Northwind Ltd."),
        (None, "Your settings were saved."),
        ("Export", "27 records were exported to orders.csv."),
        ("Welcome", "Welcome back, Maria! You have 3 new tasks."),
        ("Print", "The document was sent to the printer."),
        ("Check complete", "No problems were found on the drive."),
        (None, "The package was delivered on 2 June."),
        ("Mail", "Your message has been sent."),
    ],
    "question_dialog": [
        ("Delete", "Delete the selected 3 photos?"),
        (None, "Do you want to save the changes you made to notes.txt?"),
        ("Exit", "Exit the application now?"),
        ("Overwrite", "The file report.pdf already exists. Overwrite it?"),
        ("Restart", "Restart now to finish installing updates?"),
        ("Unsubscribe", "Stop receiving the weekly newsletter?"),
        (None, "Discard this draft?"),
        ("Empty trash", "Permanently erase all 12 items in the trash?"),
    ],
    "password_prompt": [
        ("Login", "Password for carol:"),
        ("Authentication required", "Enter the password for the keyring 'login':"),
        ("Unlock", "Enter your PIN or password to unlock the screen"),
        ("Proxy", "The proxy proxy.corp:3128 requires a password."),
        ("Encrypted disk", "Passphrase for /dev/sdb1:"),
        ("FTP", "Password for user 'upload' on files.example.com:"),
        (None, "Enter password:"),
        ("Wi-Fi", "Password for the network 'HomeNet-5G':"),
    ],
    "progress_dialog": [
        ("Copying", "Copying 12 of 40 photos"),
        ("Exporting", "Writing page 7 of 30"),
        ("Indexing", "Indexing your mail, please wait..."),
        (None, "Extracting files from backup.zip"),
        ("Downloading", "video.mp4 - 34 MB of 210 MB"),
        ("Installing", "Setting up the printer driver"),
        ("Backup", "Backing up Documents to the network drive"),
        ("Loading", "Loading project, 2 of 5 modules"),
    ],
    "file_chooser": [
        ("Open", "open"),
        ("Save", "save"),
        ("Choose folder", "directory"),
        ("Open document", "open"),
        ("Save report as", "save"),
        ("Attach file", "open"),
        ("Select backup folder", "directory"),
        ("Import photos", "open"),
    ],
}

SIZES = [(1280, 800), (1920, 1080), (1366, 768), (1440, 900), (1024, 768)]
LOOKS = ["Metal", "Ocean", "Nimbus", "Motif"]
WMS = ["icewm", "jwm", "fluxbox", "twm"]
COMMANDS = [
    "ls -la /usr/share/doc | head -30",
    "cal -3",
    "head -35 /etc/services",
    'for i in 1 2 3 4 5 6; do echo "build step $i ... ok"; done; echo done',
    "cat $HOME/notes/todo.txt",
]
DOCUMENTS = {
    "recipe.txt": "Lentil soup\n\n250 g red lentils\n1 onion, 2 carrots\n1 l vegetable stock\ncumin, salt, "
    "lemon\n\nFry the onion, add the rest, simmer 25 minutes, blend.\n",
    "todo.txt": "TODO this week\n- renew passport\n- pay the electricity bill\n- call grandma on Sunday\n"
    "- return library books\n- book dentist appointment\n",
    "notes.md": "## Trip to Lisbon\n\nFlight Fri 07:40, hotel near Alfama.\nVisit: tram 28, Belem, LX Factory.\n"
    "Budget: 600 EUR\n",
    "config.ini": "[server]\nhost = 0.0.0.0\nport = 8080\nworkers = 4\n\n[log]\nlevel = info\nfile = app.log\n",
}


def _fake_home(root: Path) -> Path:
    home = root / "home"
    for d, files in {
        "Documents": ["annual-report.odt", "taxes-2025.pdf", "cv.docx", "budget.xlsx", "meeting.txt"],
        "Music": ["song01.mp3", "song02.mp3"],
        "Photos": ["beach.jpg", "mountains.jpg", "dog.png", "party.jpg"],
        "Downloads": ["setup.sh", "manual.pdf"],
        "Backups": [],
    }.items():
        (home / d).mkdir(parents=True, exist_ok=True)
        for f in files:
            (home / d / f).write_text("x" * 100)
    (home / "notes").mkdir(exist_ok=True)
    for name, body in DOCUMENTS.items():
        (home / "notes" / name).write_text(body)
    return home


def _background(rng: random.Random, w: int, h: int, home: Path) -> list[list[str]]:
    cmds = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        prog = rng.choice(["urxvt", "urxvt", "xedit", "xedit", "xload", "xlogo", "xeyes"])
        x, y = rng.randint(0, w // 3), rng.randint(0, h // 3)
        if prog == "urxvt":
            cmds.append(["urxvt", "-geometry", f"84x26+{x}+{y}", "-hold", "-e", "sh", "-c", rng.choice(COMMANDS)])
        elif prog == "xedit":
            doc = home / "notes" / rng.choice(sorted(DOCUMENTS))
            cmds.append(["xedit", "-geometry", f"560x420+{x}+{y}", str(doc)])
        else:
            cmds.append([prog, "-geometry", f"+{x}+{y}"])
    return cmds


def render(out: Path, seed: int = 23) -> int:
    for tool in ("Xvfb", "import", "java", "javac", "urxvt", "xedit", *WMS):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found; install the Debian packages listed in this script's docstring")
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "heldout-swing-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    home = _fake_home(scratch)
    classes = scratch / "classes"
    subprocess.run(["javac", "-d", str(classes), str(HERE / "HeldoutSwingDialog.java")], check=True)
    n = 0
    for state, items in TEXTS.items():
        (out / state).mkdir(exist_ok=True)
        for i, (title, text) in enumerate(items):
            look = LOOKS[i % len(LOOKS)]
            wm = WMS[(i + len(state)) % len(WMS)]
            w, h = SIZES[(i * 3 + len(state)) % len(SIZES)]
            display = f":{80 + (n % 5)}"
            env = {**os.environ, "DISPLAY": display, "HOME": str(home), "NO_AT_BRIDGE": "1"}
            procs = [subprocess.Popen(["Xvfb", display, "-screen", "0", f"{w}x{h}x24"], stderr=subprocess.DEVNULL)]
            time.sleep(0.7)
            try:
                procs.append(subprocess.Popen([wm], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                time.sleep(0.8)
                shade = rng.choice(["#2f4f4f", "#3c3c5a", "#6b4e3d", "#505050", "#a9b4c2", "#204060"])
                args = ["java", "-cp", str(classes), "HeldoutSwingDialog", state, look, title or "-", text]
                dest = out / state / f"{look.lower()}_{state}_{i + 1:02d}.png"
                shot(procs, env, shade, _background(rng, w, h, home), 0.6, args, 3.0, dest)
                n += 1
            finally:
                stop(procs)
    shutil.rmtree(scratch, ignore_errors=True)
    return n


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "heldout" / "desktop-swing"
    print(f"rendered {render(target)} screenshots under {target}")
