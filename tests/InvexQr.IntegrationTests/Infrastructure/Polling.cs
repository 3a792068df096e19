namespace InvexQr.IntegrationTests.Infrastructure;

/// <summary>For wait loops that poll until something asynchronous shows up: <c>while (!done &amp;&amp; DateTime.UtcNow &lt; deadline &amp;&amp; await Polling.Pause())</c>.</summary>
public static class Polling
{
    /// <summary>Waits a moment between two polls; always true, so it can sit in a loop condition.</summary>
    public static async Task<bool> Pause(int milliseconds = 200)
    {
        await Task.Delay(milliseconds);
        return true;
    }
}
