// Show one real Java Swing dialog and wait to be killed: the program
// render_heldout_swing.py compiles (javac) and starts under Xvfb.
//
//     java -cp CLASSES HeldoutSwingDialog STATE LAF TITLE TEXT
//
// STATE is a dev state name (error_dialog ... file_chooser); LAF one of Metal, Ocean,
// Nimbus, Motif (never GTK: the dev set is GTK). TITLE/TEXT may be "-". For file_chooser,
// TEXT is open|save|directory; for password_prompt TEXT is the prompt and a typed password
// is shown as dots; for progress_dialog TEXT is the note under the bar.

import java.awt.BorderLayout;
import java.io.File;
import javax.swing.*;
import javax.swing.plaf.metal.DefaultMetalTheme;
import javax.swing.plaf.metal.MetalLookAndFeel;
import javax.swing.plaf.metal.OceanTheme;

public class HeldoutSwingDialog {
    static void laf(String name) throws Exception {
        switch (name) {
            case "Metal":
                MetalLookAndFeel.setCurrentTheme(new DefaultMetalTheme());
                UIManager.setLookAndFeel(new MetalLookAndFeel());
                break;
            case "Ocean":
                MetalLookAndFeel.setCurrentTheme(new OceanTheme());
                UIManager.setLookAndFeel(new MetalLookAndFeel());
                break;
            case "Nimbus":
                UIManager.setLookAndFeel("javax.swing.plaf.nimbus.NimbusLookAndFeel");
                break;
            case "Motif":
                UIManager.setLookAndFeel("com.sun.java.swing.plaf.motif.MotifLookAndFeel");
                break;
            default:
                throw new IllegalArgumentException("unknown look and feel " + name);
        }
    }

    public static void main(String[] args) throws Exception {
        String state = args[0];
        laf(args[1]);
        String title = args[2].equals("-") ? null : args[2];
        String text = args[3].equals("-") ? null : args[3];
        SwingUtilities.invokeLater(() -> show(state, title, text));
    }

    static void show(String state, String title, String text) {
        switch (state) {
            case "error_dialog":
                JOptionPane.showMessageDialog(null, text, title == null ? "Error" : title, JOptionPane.ERROR_MESSAGE);
                break;
            case "warning_dialog":
                JOptionPane.showMessageDialog(null, text, title == null ? "Warning" : title, JOptionPane.WARNING_MESSAGE);
                break;
            case "info_dialog":
                JOptionPane.showMessageDialog(null, text, title == null ? "Message" : title, JOptionPane.INFORMATION_MESSAGE);
                break;
            case "question_dialog":
                int kind = text.length() % 3 == 0 ? JOptionPane.OK_CANCEL_OPTION
                        : text.length() % 3 == 1 ? JOptionPane.YES_NO_OPTION : JOptionPane.YES_NO_CANCEL_OPTION;
                JOptionPane.showConfirmDialog(null, text, title == null ? "Select an Option" : title, kind,
                        JOptionPane.QUESTION_MESSAGE);
                break;
            case "password_prompt": {
                JPanel panel = new JPanel(new BorderLayout(0, 6));
                panel.add(new JLabel(text), BorderLayout.NORTH);
                JPasswordField field = new JPasswordField("hunter2secret".substring(0, 5 + text.length() % 8), 20);
                panel.add(field, BorderLayout.CENTER);
                JOptionPane.showConfirmDialog(null, panel, title == null ? "Input" : title, JOptionPane.OK_CANCEL_OPTION,
                        JOptionPane.PLAIN_MESSAGE);
                break;
            }
            case "progress_dialog": {
                ProgressMonitor pm = new ProgressMonitor(null, title == null ? "Working" : title, text, 0, 100);
                pm.setMillisToDecideToPopup(0);
                pm.setMillisToPopup(0);
                pm.setProgress(1);
                int target = 15 + (text.length() * 7) % 70;
                Timer later = new Timer(300, e -> pm.setProgress(target));
                later.setRepeats(false);
                later.start();
                break;
            }
            case "file_chooser": {
                JFileChooser fc = new JFileChooser(new File(System.getProperty("user.home"), "Documents"));
                if (title != null) fc.setDialogTitle(title);
                if ("directory".equals(text)) {
                    fc.setFileSelectionMode(JFileChooser.DIRECTORIES_ONLY);
                    fc.setCurrentDirectory(new File(System.getProperty("user.home")));
                    fc.showOpenDialog(null);
                } else if ("save".equals(text)) {
                    fc.setSelectedFile(new File(fc.getCurrentDirectory(), "untitled.txt"));
                    fc.showSaveDialog(null);
                } else {
                    fc.showOpenDialog(null);
                }
                break;
            }
            default:
                throw new IllegalArgumentException("unknown state " + state);
        }
    }
}
