"""Render the held-out set ``desktop-tkqt``: real Tk and Qt dialogs (other toolkits than the
dev set's GTK/zenity) in front of real X11/Qt applications, labeled with the dev dialog
states. Texts are our own, written for this set before any result was seen.

    apt-get install -y xvfb openbox imagemagick x11-apps x11-xserver-utils xterm \
        python3-tk python3-pyqt5 featherpad optipng fonts-dejavu fonts-liberation
    python benchmarks/render_heldout_desktop.py benchmarks/heldout/desktop-tkqt

Seeded; 10 screens per state (5 Tk, 5 Qt), full-screen captures (``import -window root``)
under Xvfb + openbox (decoration themes the dev set does not use), 0-3 application windows
behind the dialog (xterm running a command, xcalc, xclock, FeatherPad editing a document).
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

TEXTS: dict[str, list[tuple[str | None, str | None]]] = {
    "error_dialog": [
        ("Print error", "The printer 'Office-2F' is not responding. The job was cancelled."),
        ("Import failed", "Could not import contacts.csv: line 14 has too many columns."),
        (None, "Error: the configuration file settings.ini could not be read."),
        ("Disk full", "There is not enough space on /home to complete the operation."),
        ("Player", "This video format is not supported."),
        ("Connection lost", "The connection to mail.example.net was refused."),
        ("Plugin error", "An unexpected error occurred in the plugin 'Spellcheck'."),
        ("Camera", "No camera was found. Make sure it is connected and turned on."),
        (None, "Cannot delete 'archive': permission denied."),
        ("Build", "Build failed with 3 errors."),
    ],
    "warning_dialog": [
        ("Unsaved changes", "Closing now will discard the changes to chapter3.txt."),
        ("Low disk space", "Only 512 MB left on the system drive."),
        ("Caution", "The selected drive will be formatted and all data on it will be erased."),
        (None, "The file name contains characters that other systems may not accept."),
        ("Large attachment", "The attachment is 40 MB and may be rejected by the recipient's server."),
        ("Old version", "You are using an old version of this program. Some features may not work."),
        ("Firewall", "The firewall is turned off."),
        ("Temperature", "The CPU temperature is high (92 °C)."),
        (None, "Macros in this document have been disabled."),
        ("Sync", "Some files were skipped because they are open in another program."),
    ],
    "info_dialog": [
        ("About Notes", "Notes 1.4 - a small note-taking program."),
        ("Done", "The conversion finished. 12 pages were converted."),
        (None, "All updates are installed. Your system is up to date."),
        ("Backup", "The backup completed at 14:32."),
        ("Reminder", "Team meeting in 15 minutes in room 2."),
        ("Tip of the day", "You can drag files onto the window to open them."),
        ("Import", "148 contacts were imported."),
        (None, "The download is complete."),
        ("License", "Your license is valid until 31 December."),
        ("Information", "The report has been sent to the printer."),
    ],
    "question_dialog": [
        ("Quit", "Are you sure you want to quit?"),
        ("Save changes", "Save changes to chapter3.txt before closing?"),
        (None, "Do you really want to remove this account?"),
        ("Replace file", "A file named photo.jpg already exists. Replace it?"),
        ("Update", "A new version is available. Install it now?"),
        ("Confirm", "Move 4 items to the trash?"),
        ("Reset", "Reset all preferences to their default values?"),
        (None, "Send the error report to the developers?"),
        ("Calendar", "Accept the invitation to 'Quarterly review'?"),
        ("Network", "Connect to the network 'CafeGuest'? It is not secured."),
    ],
    "password_prompt": [
        ("Password required", "Enter your password to unlock the vault:"),
        ("sudo", "[sudo] password for alice:"),
        ("Remote login", "Password for bob@backup.example.org"),
        ("Wallet", "The application 'Mail' requests access to the wallet. Password:"),
        ("Admin rights", "Enter the administrator password to continue"),
        ("Archive", "The archive secret.zip is protected. Enter password:"),
        ("Database", "Password for user 'report' on db01:"),
        ("SSH key", "Enter passphrase for key id_ed25519:"),
        ("VPN", "Password for VPN connection 'Office':"),
        (None, "Password:"),
    ],
    "progress_dialog": [
        ("Copying files", "Copying 58 of 230 files to /media/usb..."),
        ("Installing", "Installing fonts, please wait"),
        ("Rendering", "Rendering frame 120 of 480"),
        (None, "Compressing archive.tar.gz"),
        ("Downloading", "Receiving data: 12.4 MB of 80 MB"),
        ("Please wait", "Updating the search index"),
        ("Converting", "Converting audio files to MP3..."),
        ("Sync", "Synchronising mailbox 'Work'"),
        ("Upload", "Sending photos to the cloud, 3 minutes left"),
        ("Scanning", "Checking the disk for errors"),
    ],
    "file_chooser": [
        ("Open image", "open"),
        ("Save as", "save"),
        ("Select folder", "directory"),
        ("Open project", "open"),
        ("Export PDF", "save"),
        ("Choose a file to attach", "open"),
        ("Load playlist", "open"),
        ("Import bookmarks", "open"),
        ("Save screenshot", "save"),
        ("Pick a directory", "directory"),
    ],
}

SIZES = [(1280, 800), (1920, 1080), (1366, 768), (1600, 900), (1024, 768)]
TK_THEMES = ["clam", "alt", "default", "classic"]
QT_STYLES = ["Fusion", "Windows", "Fusion-dark"]
OB_THEMES = ["Orang", "Syscrash", "Clearlooks-Olive", "Bear2", "Artwiz-boxed", "Onyx-Citrus", "Nightmare"]
COMMANDS = ["df -h; free -m", "ls -l /usr/share | head -25", "cal; date", "ip addr", "uname -a; uptime; who"]
DOCUMENTS = {
    "letter.txt": "Dear Ms Novak,\n\nthank you for your order of 12 March. The parcel left our warehouse today\n"
    "and should reach you within three working days.\n\nKind regards,\nPeter Lindqvist\nCustomer service\n",
    "shopping.md": "# Weekend\n\n- bread, butter, eggs\n- tomatoes (6)\n- coffee beans\n- batteries AA\n\n"
    "Call the plumber on Monday about the kitchen tap.\n",
    "plot.py": "import csv\nimport statistics\n\n\ndef load(path):\n    with open(path) as f:\n"
    "        return [float(r['price']) for r in csv.DictReader(f)]\n\n\nprices = load('prices.csv')\n"
    "print(statistics.mean(prices), statistics.median(prices))\n",
    "minutes.txt": "Meeting minutes - 4 April\nPresent: Ana, Joel, Mei, Tom\n\n1. Budget for Q3 approved.\n"
    "2. New website goes live on 1 May.\n3. Joel to book the venue for the summer party.\n",
}


def _fake_home(root: Path) -> Path:
    home = root / "home"
    for d, files in {
        "Documents": ["thesis-draft.odt", "expenses-2025.ods", "todo.txt", "contract.pdf", "recipes.md"],
        "Pictures": ["holiday-01.jpg", "holiday-02.jpg", "cat.png"],
        "Videos": ["birthday.mp4"],
        "Downloads": ["installer.deb", "slides.pdf"],
        "Projects": [],
    }.items():
        (home / d).mkdir(parents=True, exist_ok=True)
        for f in files:
            (home / d / f).write_text("x" * 100)
    for name, body in DOCUMENTS.items():
        (home / "Documents" / name).write_text(body)
    return home


def _openbox_config(scratch: Path, theme: str) -> Path:
    rc = Path("/etc/xdg/openbox/rc.xml").read_text()
    start, end = rc.index("<theme>"), rc.index("</theme>")
    block = rc[start:end]
    name_start = block.index("<name>") + len("<name>")
    name_end = block.index("</name>")
    block = block[:name_start] + theme + block[name_end:]
    path = scratch / f"rc-{theme}.xml"
    path.write_text(rc[:start] + block + rc[end:])
    return path


def _background(rng: random.Random, w: int, h: int, home: Path) -> list[list[str]]:
    cmds = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
        prog = rng.choice(["xterm", "xterm", "xcalc", "xclock", "featherpad", "featherpad"])
        x, y = rng.randint(0, w // 3), rng.randint(0, h // 3)
        if prog == "xterm":
            cmds.append(["xterm", "-geometry", f"90x28+{x}+{y}", "-hold", "-e", "sh", "-c", rng.choice(COMMANDS)])
        elif prog == "featherpad":
            doc = home / "Documents" / rng.choice(sorted(DOCUMENTS))
            cmds.append(["featherpad", "--standalone", str(doc)])
        else:
            cmds.append([prog, "-geometry", f"+{x}+{y}"])
    return cmds


def render(out: Path, seed: int = 17) -> int:
    for tool in ("Xvfb", "openbox", "import", "xterm", "xcalc", "featherpad"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found; install the Debian packages listed in this script's docstring")
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    scratch = Path(os.environ.get("TMPDIR", "/tmp")) / "heldout-desktop-scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    home = _fake_home(scratch)
    n = 0
    for state, items in TEXTS.items():
        (out / state).mkdir(exist_ok=True)
        for i, (title, text) in enumerate(items):
            kit = "tk" if i % 2 == 0 else "qt"
            style = rng.choice(TK_THEMES if kit == "tk" else QT_STYLES)
            w, h = SIZES[(i + len(state)) % len(SIZES)]
            display = f":{70 + (n % 5)}"
            env = {**os.environ, "DISPLAY": display, "HOME": str(home), "NO_AT_BRIDGE": "1", "QT_QPA_PLATFORM": "xcb"}
            env.pop("WAYLAND_DISPLAY", None)
            procs = [subprocess.Popen(["Xvfb", display, "-screen", "0", f"{w}x{h}x24"], stderr=subprocess.DEVNULL)]
            time.sleep(0.7)
            try:
                rc = _openbox_config(scratch, rng.choice(OB_THEMES))
                procs.append(
                    subprocess.Popen(["openbox", "--config-file", str(rc)], env=env, stderr=subprocess.DEVNULL)
                )
                time.sleep(0.5)
                shade = rng.choice(["#28435a", "#5a6e55", "#7a5c61", "#444444", "#b8b0a0", "#1d3b2a"])
                args = ["/usr/bin/python3", str(HERE / "heldout_dialog_app.py")]
                args += [kit, state, style, title or "-", text or "-"]
                dest = out / state / f"{kit}_{state}_{i + 1:02d}.png"
                shot(procs, env, shade, _background(rng, w, h, home), 0.8, args, 2.2, dest, cwd=home / "Documents")
                n += 1
            finally:
                stop(procs)
    shutil.rmtree(scratch, ignore_errors=True)
    return n


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "heldout" / "desktop-tkqt"
    print(f"rendered {render(target)} screenshots under {target}")
