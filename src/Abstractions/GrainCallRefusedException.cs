namespace InvexQr.Abstractions;

/// <summary>
/// A management call refused at the grain boundary (Silo.Hosting's GrainCallerFilter): no valid caller token, or a
/// caller acting for another owner. It crosses the wire so the caller sees why; for the gateway it is a bug (500).
/// </summary>
[GenerateSerializer]
public sealed class GrainCallRefusedException : Exception
{
    public GrainCallRefusedException()
        : base("The grain call was refused.")
    {
    }

    public GrainCallRefusedException(string message)
        : base(message)
    {
    }

    public GrainCallRefusedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
