using InvexQr.ServiceDefaults;
using Npgsql;

namespace InvexQr.UnitTests.Hosting;

public sealed class PostgresConnectionTests
{
    [Fact]
    public void A_database_url_becomes_an_npgsql_connection_string()
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnection.FromUrl("postgresql://invexqr:p%40ss@127.0.0.1:55432/invexqr"));

        Assert.Equal("127.0.0.1", builder.Host);
        Assert.Equal(55432, builder.Port);
        Assert.Equal("invexqr", builder.Username);
        Assert.Equal("p@ss", builder.Password);
        Assert.Equal("invexqr", builder.Database);
    }

    [Theory]
    [InlineData("mysql://u@h/db")]
    [InlineData("not a url")]
    public void Other_urls_are_refused_with_a_clear_message(string url) =>
        Assert.Contains("postgresql://", Assert.Throws<InvalidOperationException>(() => PostgresConnection.FromUrl(url)).Message);
}
