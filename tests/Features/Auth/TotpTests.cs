using System.Text;
using Automator67.Functions.Features.Auth.TwoFactor;
using Microsoft.Extensions.Time.Testing;

namespace Automator67.Tests.Features.Auth;

/// <summary>RFC 6238 codes, the ±1 step window at its boundaries (on a fake clock), replay, and the otpauth encoding.</summary>
public sealed class TotpTests
{
    // RFC 6238 Appendix B: SHA1 with the ASCII secret "12345678901234567890"; six digits are the last six of its eight.
    static readonly byte[] RfcSecret = Encoding.ASCII.GetBytes("12345678901234567890");

    [Theory]
    [InlineData(59L, "287082")]
    [InlineData(1111111109L, "081804")]
    [InlineData(1111111111L, "050471")]
    [InlineData(1234567890L, "005924")]
    [InlineData(2000000000L, "279037")]
    [InlineData(20000000000L, "353130")]
    public void Code_MatchesRfc6238Vectors(long unixSeconds, string expected)
    {
        var step = Totp.StepAt(DateTimeOffset.FromUnixTimeSeconds(unixSeconds));

        Assert.Equal(expected, Totp.Code(RfcSecret, step));
    }

    [Fact]
    public void Verify_AcceptsOneStepEitherSide_AndNotTwo_ExactlyAtStepBoundaries()
    {
        const long Step = 40_000_000; // a step start in 2008
        var start = DateTimeOffset.FromUnixTimeSeconds(Step * Totp.PeriodSeconds);
        var clock = new FakeTimeProvider(start.AddMilliseconds(-1));
        string At(long step) => Totp.Code(RfcSecret, step);

        // The last millisecond before step S is still step S-1: S-2 passes and S+1 does not.
        Assert.Equal((TotpMatch.Accepted, Step - 2), Totp.Verify(RfcSecret, At(Step - 2), clock, null));
        Assert.Equal(TotpMatch.NoMatch, Totp.Verify(RfcSecret, At(Step + 1), clock, null).Match);

        // At the first instant of step S: S-1, S and S+1 pass; S-2 and S+2 do not.
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal((TotpMatch.Accepted, Step - 1), Totp.Verify(RfcSecret, At(Step - 1), clock, null));
        Assert.Equal((TotpMatch.Accepted, Step), Totp.Verify(RfcSecret, At(Step), clock, null));
        Assert.Equal((TotpMatch.Accepted, Step + 1), Totp.Verify(RfcSecret, At(Step + 1), clock, null));
        Assert.Equal(TotpMatch.NoMatch, Totp.Verify(RfcSecret, At(Step - 2), clock, null).Match);
        Assert.Equal(TotpMatch.NoMatch, Totp.Verify(RfcSecret, At(Step + 2), clock, null).Match);

        // The last millisecond of step S still takes S-1; the next one no longer does, and takes S+2.
        clock.SetUtcNow(start.AddSeconds(Totp.PeriodSeconds).AddMilliseconds(-1));
        Assert.Equal(TotpMatch.Accepted, Totp.Verify(RfcSecret, At(Step - 1), clock, null).Match);
        Assert.Equal(TotpMatch.NoMatch, Totp.Verify(RfcSecret, At(Step + 2), clock, null).Match);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TotpMatch.NoMatch, Totp.Verify(RfcSecret, At(Step - 1), clock, null).Match);
        Assert.Equal((TotpMatch.Accepted, Step + 2), Totp.Verify(RfcSecret, At(Step + 2), clock, null));
    }

    [Fact]
    public void Verify_RefusesTheLastUsedStepAndOlder_AsReplayed_ButTakesANewerOne()
    {
        const long Step = 50_000_000;
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(Step * Totp.PeriodSeconds + 10));

        Assert.Equal(TotpMatch.Replayed, Totp.Verify(RfcSecret, Totp.Code(RfcSecret, Step), clock, lastUsedStep: Step).Match);
        Assert.Equal(TotpMatch.Replayed, Totp.Verify(RfcSecret, Totp.Code(RfcSecret, Step - 1), clock, lastUsedStep: Step).Match);
        Assert.Equal((TotpMatch.Accepted, Step + 1), Totp.Verify(RfcSecret, Totp.Code(RfcSecret, Step + 1), clock, lastUsedStep: Step));
        Assert.Equal(TotpMatch.NoMatch, Totp.Verify(RfcSecret, "000000" == Totp.Code(RfcSecret, Step) ? "111111" : "000000", clock, lastUsedStep: null).Match);
    }

    [Theory]
    [InlineData("123456", "123456")]
    [InlineData("123 456", "123456")]
    [InlineData(" 123456 ", "123456")]
    [InlineData("12345", null)]
    [InlineData("1234567", null)]
    [InlineData("12345a", null)]
    [InlineData("١٢٣٤٥٦", null)] // Arabic-Indic digits are digits, but no authenticator shows them
    [InlineData("123\u00004", null)]
    [InlineData(null, null)]
    public void Normalize_KeepsSixAsciiDigits_AndDropsSpacesOnly(string? typed, string? expected) =>
        Assert.Equal(expected, Totp.Normalize(typed));

    [Theory]
    [InlineData("", "")]
    [InlineData("f", "MY")]
    [InlineData("fo", "MZXQ")]
    [InlineData("foo", "MZXW6")]
    [InlineData("foob", "MZXW6YQ")]
    [InlineData("fooba", "MZXW6YTB")]
    [InlineData("foobar", "MZXW6YTBOI")]
    public void Base32_MatchesRfc4648Vectors_WithoutPadding(string data, string expected) =>
        Assert.Equal(expected, Totp.Base32(Encoding.ASCII.GetBytes(data)));

    [Fact]
    public void OtpauthUri_EscapesIssuerAndAccount_AndNamesEveryParameter()
    {
        var uri = Totp.OtpauthUri("My Corp", "ann+ops@example.com", RfcSecret);

        Assert.Equal(
            "otpauth://totp/My%20Corp:ann%2Bops%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20Corp&algorithm=SHA1&digits=6&period=30",
            uri);
    }
}
