using System.Globalization;
using System.Text;

namespace VfsMount.Cli;

/// <summary>
/// The one way the daemon logs: the one-line format of every refusal and error, written to
/// standard error (the foreground, and a daemon until it is ready), to the --log-file (each
/// line with its UTC time), and — for a daemon without a log file — to syslog, which is the
/// journal too where journald runs. Every Console.Error line of the process comes here.
/// </summary>
internal sealed class LogSink : TextWriter
{
    /// <summary>syslog's socket; a test points it elsewhere.</summary>
    private static readonly string SyslogSocket = Environment.GetEnvironmentVariable("VFSMOUNT_SYSLOG_SOCKET") is { Length: > 0 } s ? s : "/dev/log";
    private const int DaemonWarning = (3 << 3) | 4;   // LOG_DAEMON | LOG_WARNING
    private readonly StringBuilder _line = new();
    private StreamWriter? _file;
    private TextWriter? _console;
    private bool _syslog;

    public LogSink(TextWriter console, string? logFile)
    {
        _console = console;
        if (logFile is not null)
            _file = new StreamWriter(new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete), new UTF8Encoding(false)) { AutoFlush = true };
    }

    public override Encoding Encoding => Encoding.UTF8;

    /// <summary>
    /// A daemon is ready: its last word to standard error, then lines go to the log file, or to
    /// syslog when there is none (and syslog is there).
    /// </summary>
    public void Detach(string lastWord)
    {
        lock (_line)
        {
            _console?.WriteLine(lastWord);
            _console?.Flush();
            _console = null;
            _syslog = _file is null && File.Exists(SyslogSocket);
        }
    }

    public override void Write(char value)
    {
        lock (_line)
        {
            if (value != '\n') _line.Append(value);
            else Emit();
        }
    }

    public override void Write(string? value)
    {
        lock (_line)
        {
            foreach (char c in value ?? "")
            {
                if (c != '\n') _line.Append(c);
                else Emit();
            }
        }
    }

    private void Emit()
    {
        string line = _line.ToString().TrimEnd('\r');
        _line.Clear();
        _console?.WriteLine(line);
        _file?.WriteLine($"{DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)} {line}");
        if (_syslog)
        {
            string message = line.StartsWith("vfsmount: ", StringComparison.Ordinal) ? line["vfsmount: ".Length..] : line;
            UnixDatagram.Send(SyslogSocket, $"<{DaemonWarning}>vfsmount[{Environment.ProcessId}]: {message}");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_line)
            {
                _file?.Dispose();
                _file = null;   // a line from a thread still finishing goes nowhere rather than throw
            }
        }
        base.Dispose(disposing);
    }
}
