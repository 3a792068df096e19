using System.Text.Json;

namespace InvexQr.Gateway.Api;

/// <summary>
/// Reads a JSON request body so that every malformed body answers 400/415 problem+json naming the
/// problem, rather than the framework's bare 400 or a 500.
/// </summary>
public static class JsonBody
{
    public static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, Results.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported content type.",
                detail: "Send the body as application/json."));
        }

        try
        {
            var value = await request.ReadFromJsonAsync<T>();
            return value is null
                ? (null, Invalid("The body must be a JSON object."))
                : (value, null);
        }
        catch (JsonException ex)
        {
            return (null, Invalid($"The body is not valid JSON for this request: {ex.Message}"));
        }
    }

    public static IResult Invalid(string detail, string? field = null) => field is null
        ? Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request.", detail: detail)
        : Results.ValidationProblem(new Dictionary<string, string[]> { [field] = [detail] }, detail: detail, title: "Invalid request.");
}
