using System.Security.Cryptography;
using System.Text;
using Automator67.Contracts.Relay;

namespace Automator67.Tests.Contracts;

public sealed class JwsTests
{
    static readonly ECDsa Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    static readonly ECDsa Other = ECDsa.Create(ECCurve.NamedCurves.nistP256);

    static ECDsa? Lookup(string kid) => kid == "k1" ? Key : null;

    [Fact]
    public void Verify_ReturnsThePayload_OfAMessageSignedWithATrustedKey()
    {
        var compact = Jws.Sign("{\"a\":1}"u8, Key, "k1", MessageTypes.Command);

        var (payload, kid, problem) = Jws.Verify(compact, MessageTypes.Command, Lookup);

        Assert.Null(problem);
        Assert.Equal("k1", kid);
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(payload!));
    }

    [Fact]
    public void Verify_Refuses_AnotherKeyUnderATrustedKid_AnUnknownKid_AndAnotherType()
    {
        Assert.Equal("the signature does not verify", Jws.Verify(Jws.Sign("{}"u8, Other, "k1", MessageTypes.Command), MessageTypes.Command, Lookup).Problem);
        Assert.Equal("the message is signed with an unknown key", Jws.Verify(Jws.Sign("{}"u8, Key, "k2", MessageTypes.Command), MessageTypes.Command, Lookup).Problem);
        Assert.Equal($"the message is not of type {MessageTypes.Command}", Jws.Verify(Jws.Sign("{}"u8, Key, "k1", MessageTypes.Event), MessageTypes.Command, Lookup).Problem);
    }

    [Fact]
    public void Verify_Refuses_ATamperedPayload_AlgNone_AndGarbage()
    {
        var parts = Jws.Sign("{\"kind\":\"ping\"}"u8, Key, "k1", MessageTypes.Command).Split('.');
        var tampered = $"{parts[0]}.{Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"kind\":\"run-replica\"}")).TrimEnd('=').Replace('+', '-').Replace('/', '_')}.{parts[2]}";
        var none = $"{Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"alg\":\"none\",\"kid\":\"k1\",\"typ\":\"a67-command+jws\"}")).TrimEnd('=')}.{parts[1]}.";

        Assert.Equal("the signature does not verify", Jws.Verify(tampered, MessageTypes.Command, Lookup).Problem);
        Assert.Equal("the signature algorithm is not ES256", Jws.Verify(none, MessageTypes.Command, Lookup).Problem);
        Assert.Equal("the message is not a compact JWS", Jws.Verify("not a jws at all", MessageTypes.Command, Lookup).Problem);
        Assert.Equal("the message is too large", Jws.Verify(new string('a', Jws.MaxLength + 1), MessageTypes.Command, Lookup).Problem);
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("no dots at all", null)]
    [InlineData(".payload.signature", null)]
    [InlineData("!!!.payload.signature", null)]
    public void PeekKid_IsNull_ForWhatIsNotACompactJws(string compact, string? kid) => Assert.Equal(kid, Jws.PeekKid(compact));

    [Fact]
    public void PeekKid_ReadsTheKid_WithoutVerifying()
    {
        Assert.Equal("k1", Jws.PeekKid(Jws.Sign("{}"u8, Other, "k1", MessageTypes.Event)));
        Assert.Null(Jws.PeekKid(Jws.Sign("{}"u8, Key, "k1", MessageTypes.Event) + new string('a', Jws.MaxLength)));
    }
}
