using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace InvexQr.Gateway.Api;

/// <summary>
/// Reads a JSON request body so that every malformed body answers 400/415 problem+json naming the
/// problem, rather than the framework's bare 400 or a 500.
/// </summary>
public static class JsonBody
{
    public static async Task<(T? Value, ProblemHttpResult? Error)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        var (value, _, error) = await ReadWithFieldsAsync<T>(request);
        return (value, error);
    }

    /// <summary>
    /// Also returns the names of the fields present in the body (lower-cased), so that a PATCH can tell
    /// <c>"expiresAt": null</c> (remove it) from a body that does not mention the field (keep it).
    /// </summary>
    public static async Task<(T? Value, ISet<string> Fields, ProblemHttpResult? Error)> ReadWithFieldsAsync<T>(HttpRequest request)
        where T : class
    {
        var fields = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (!request.HasJsonContentType())
        {
            return (null, fields, TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Unsupported content type.",
                detail: "Send the body as application/json."));
        }

        try
        {
            var options = request.HttpContext.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return (null, fields, Invalid("The body must be a JSON object."));
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                fields.Add(property.Name);
            }

            var value = document.RootElement.Deserialize<T>(options);
            return value is null ? (null, fields, Invalid("The body must be a JSON object.")) : (value, fields, null);
        }
        catch (JsonException ex)
        {
            // Name the field when the parser knows it ("$.routing.rules[0].when.foo" → "routing.rules[0].when.foo").
            var field = ex.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
            var detail = field is not null && ex.Message.Contains("could not be mapped", StringComparison.Ordinal)
                ? $"{field} is not a known field."
                : $"The body is not valid JSON for this request: {ex.Message}";
            return (null, fields, Invalid(detail, field));
        }
    }

    /// <summary>400 problem+json; with <paramref name="field"/>, a validation problem whose <c>errors</c> name it.</summary>
    public static ProblemHttpResult Invalid(string detail, string? field = null) => field is null
        ? TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request.", detail: detail)
        : Invalid(new Dictionary<string, string[]> { [field] = [detail] }, "Invalid request.", detail);

    /// <summary>
    /// The validation problem as a <see cref="ProblemHttpResult"/> (same body as <c>Results.ValidationProblem</c>), so that
    /// every error a handler returns is one type in its <c>Results&lt;…&gt;</c>.
    /// </summary>
    public static ProblemHttpResult Invalid(IDictionary<string, string[]> errors, string title, string? detail = null) =>
        TypedResults.Problem(new HttpValidationProblemDetails(errors) { Status = StatusCodes.Status400BadRequest, Title = title, Detail = detail });
}
