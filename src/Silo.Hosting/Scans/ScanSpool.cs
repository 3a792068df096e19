using InvexQr.Abstractions;
using System.Globalization;
using System.Runtime.InteropServices;
using InvexQr.Grains.Scans;

namespace InvexQr.Silo.Hosting;

/// <summary>
/// The silo's local, fsynced spool of scans that could not be written to PostgreSQL. Batches are
/// appended as frames (<see cref="SpoolFormat"/>) to the newest segment file and fsynced before
/// <see cref="TryAppend"/> returns, so a spooled scan survives a crash of the process or the
/// machine. Segments are replayed oldest first and deleted once written; a crash between the
/// write and the delete replays the segment again, which the scan ids make harmless.
/// The spool is bounded (<see cref="Capacity"/> bytes on disk); a batch that does not fit is refused
/// and stays in memory. One silo owns a directory: a lock file keeps a second one out.
/// </summary>
public sealed partial class ScanSpool : IDisposable
{
    /// <summary>A segment is sealed (no more appends) at this size, so replay reads bounded chunks.</summary>
    public const long SegmentBytes = 4 * 1024 * 1024;

    private const string Extension = ".spool";
    private readonly string _directory;
    private readonly Guid _instance;
    private readonly ILogger _logger;
    private readonly FileStream _lock;
    private readonly Queue<Segment> _sealed = new();
    private Segment? _active;
    private SpooledSegment? _head;
    private FileStream? _activeStream;
    private long _nextNumber;
    private long _bytes;
    private long _scans;

    private ScanSpool(string directory, long capacity, Guid instance, ILogger logger, FileStream lockFile)
    {
        _directory = directory;
        Capacity = capacity;
        _instance = instance;
        _logger = logger;
        _lock = lockFile;
    }

    /// <summary>The bound on disk, in bytes.</summary>
    public long Capacity { get; }

    /// <summary>Bytes on disk in segments not yet replayed.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Scans on disk not yet replayed.</summary>
    public long Scans => Interlocked.Read(ref _scans);

    public bool HasPending => Scans > 0;

    public string Directory => _directory;

    /// <summary>
    /// Opens (creating it if needed) the spool in <paramref name="directory"/> for the database
    /// <paramref name="instance"/> and takes its lock. Segments left by an earlier run become the
    /// first to replay; a segment of another database is set aside (renamed <c>.foreign</c>), never replayed here.
    /// </summary>
    public static ScanSpool Open(string directory, long capacity, Guid instance, ILogger logger)
    {
        System.IO.Directory.CreateDirectory(directory);
        FileStream lockFile;
        try
        {
            // FileShare.None is an exclusive advisory lock on Linux, released by the kernel if the process dies.
            lockFile = new FileStream(Path.Combine(directory, "spool.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new InvalidOperationException(
                $"The scan spool directory '{directory}' is in use by another silo. Give each silo its own ScanSink:SpoolDirectory.", ex);
        }

        var spool = new ScanSpool(directory, capacity, instance, logger, lockFile);
        spool.LoadExisting();
        return spool;
    }

    private void LoadExisting()
    {
        foreach (var path in System.IO.Directory.GetFiles(_directory, "*" + Extension).Order(StringComparer.Ordinal))
        {
            if (new FileInfo(path).Length < SpoolFormat.HeaderSize)
            {
                File.Delete(path); // created by a run that crashed before its header was synced: it never held a scan
                continue;
            }

            var number = long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1;
            _nextNumber = Math.Max(_nextNumber, number + 1);
            var contents = Read(path, out var instance);
            if (instance != _instance)
            {
                var aside = Path.ChangeExtension(path, instance is null ? ".unreadable" : ".foreign");
                File.Move(path, aside, overwrite: true);
                _logger.LogError(
                    "Spool segment {Path} belongs to database instance {Instance}, not this database's {Expected}: set aside as {Aside}, not replayed",
                    path, instance, _instance, aside);
                continue;
            }

            var segment = new Segment(path, new FileInfo(path).Length, contents.Scans.Count);
            _sealed.Enqueue(segment);
            _bytes += segment.Bytes;
            _scans += segment.Scans;
        }

        if (_scans > 0)
        {
            _logger.LogWarning("Scan spool {Directory} holds {Scans} scans from an earlier run; they will be written to PostgreSQL", _directory, _scans);
        }
    }

    /// <summary>
    /// Appends the batch and fsyncs it. False, with nothing appended, when it would pass the bound;
    /// an I/O error (a full disk) is thrown, also with nothing appended.
    /// </summary>
    public bool TryAppend(IReadOnlyList<ScanRecord> scans)
    {
        var frame = SpoolFormat.Frame(scans);
        var newSegment = _activeStream is null;
        if (Bytes + frame.Length + (newSegment ? SpoolFormat.HeaderSize : 0) > Capacity)
        {
            return false;
        }

        if (newSegment)
        {
            StartSegment();
        }

        var stream = _activeStream!;
        var before = stream.Length;
        try
        {
            stream.Write(frame);
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            // Take the partial frame back so that later frames are never stranded behind a bad one.
            try
            {
                stream.SetLength(before);
                stream.Flush(flushToDisk: true);
            }
            catch (IOException)
            {
                // The reader treats the torn frame as the end of the segment, which is sealed now.
            }

            Seal();
            throw;
        }

        _active = _active! with { Bytes = _active.Bytes + frame.Length, Scans = _active.Scans + scans.Count };
        Interlocked.Add(ref _bytes, frame.Length);
        Interlocked.Add(ref _scans, scans.Count);
        if (_active.Bytes >= SegmentBytes)
        {
            Seal();
        }

        return true;
    }

    /// <summary>The oldest segment to replay (sealing the one being appended to, if it is the only one), or null.</summary>
    public SpooledSegment? Next()
    {
        if (_sealed.Count == 0 && _active is { Scans: > 0 })
        {
            Seal();
        }

        if (!_sealed.TryPeek(out var segment))
        {
            return null;
        }

        // While PostgreSQL stays down the same head segment is offered on every retry: read and check it once.
        if (_head?.Path == segment.Path)
        {
            return _head;
        }

        var contents = Read(segment.Path, out _);
        if (contents.TornTail > 0)
        {
            _logger.LogWarning("Spool segment {Path} ends with {Bytes} bytes of a write cut short by a crash (never acknowledged)", segment.Path, contents.TornTail);
        }

        if (contents.Damaged)
        {
            _logger.LogError("Spool segment {Path} is damaged after {Scans} readable scans; they are replayed and the file is kept as .damaged", segment.Path, contents.Scans.Count);
        }

        _head = new SpooledSegment(segment.Path, contents.Scans, contents.Damaged);
        return _head;
    }

    /// <summary>The segment is in PostgreSQL: remove it (a damaged one is kept aside for the operator).</summary>
    public void Remove(SpooledSegment replayed)
    {
        var segment = _sealed.Dequeue();
        _head = null;
        if (segment.Path != replayed.Path)
        {
            throw new InvalidOperationException("Spool segments must be removed in the order they are replayed.");
        }

        if (replayed.Damaged)
        {
            File.Move(segment.Path, Path.ChangeExtension(segment.Path, ".damaged"), overwrite: true);
        }
        else
        {
            File.Delete(segment.Path);
        }

        Interlocked.Add(ref _bytes, -segment.Bytes);
        Interlocked.Add(ref _scans, -segment.Scans);
    }

    public void Dispose()
    {
        Seal();
        var empty = !HasPending && System.IO.Directory.GetFiles(_directory).All(p => Path.GetFileName(p) == "spool.lock");
        _lock.Dispose();
        if (empty)
        {
            // Nothing left to replay: leave no trace (a silo started with the default directory per port).
            File.Delete(Path.Combine(_directory, "spool.lock"));
            System.IO.Directory.Delete(_directory);
        }
    }

    private void StartSegment()
    {
        var path = Path.Combine(_directory, _nextNumber.ToString("D12", CultureInfo.InvariantCulture) + Extension);
        _nextNumber++;
        var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 4096, FileOptions.None);
        try
        {
            stream.Write(SpoolFormat.Header(_instance));
            stream.Flush(flushToDisk: true);
            SyncDirectory(_directory); // the new file's name must survive a crash too
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }

        _activeStream = stream;
        _active = new Segment(path, SpoolFormat.HeaderSize, 0);
        Interlocked.Add(ref _bytes, SpoolFormat.HeaderSize);
    }

    private void Seal()
    {
        if (_activeStream is null)
        {
            return;
        }

        _activeStream.Dispose();
        _activeStream = null;
        _sealed.Enqueue(_active!);
        _active = null;
    }

    private static SpoolFormat.Contents Read(string path, out Guid? instance)
    {
        var data = File.ReadAllBytes(path);
        instance = SpoolFormat.ReadHeader(data);
        return instance is null
            ? new SpoolFormat.Contents([], 0, true)
            : SpoolFormat.ReadFrames(data.AsSpan(SpoolFormat.HeaderSize));
    }

    /// <summary>fsync on the directory, so that a file just created is still there after a power loss (Linux only; elsewhere a no-op).</summary>
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = NativeMethods.Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open '{directory}' to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (NativeMethods.Fsync(fd) != 0)
            {
                throw new IOException($"fsync of '{directory}' failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = NativeMethods.Close(fd);
        }
    }

    private sealed record Segment(string Path, long Bytes, int Scans);

    private static partial class NativeMethods
    {
        [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}

/// <summary>A segment read back for replay.</summary>
public sealed record SpooledSegment(string Path, IReadOnlyList<ScanRecord> Scans, bool Damaged);
