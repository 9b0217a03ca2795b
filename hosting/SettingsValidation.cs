using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Automator67.Hosting;

/// <summary>
/// Binds an options class to its section and validates its data annotations at start. Unlike
/// <c>ValidateDataAnnotations</c>, a failure carries only our own messages ("Missing setting X …"), which name the
/// setting as the user writes it, instead of the framework's "DataAnnotation validation failed for 'T' members…".
/// </summary>
public static class SettingsValidation
{
    public static OptionsBuilder<T> AddSettings<T>(this IServiceCollection services, string section) where T : class
    {
        var builder = services.AddOptions<T>().BindConfiguration(section);
        services.AddSingleton<IValidateOptions<T>>(new AnnotatedSettingsValidator<T>(builder.Name));
        return builder.ValidateOnStart();
    }

    sealed class AnnotatedSettingsValidator<T>(string? name) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? optionsName, T options)
        {
            if (name is not null && name != optionsName)
            {
                return ValidateOptionsResult.Skip;
            }

            var results = new List<ValidationResult>();
            return Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true)
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail(results.Select(r => r.ErrorMessage ?? $"Invalid setting {string.Join(", ", r.MemberNames)} in {typeof(T).Name}"));
        }
    }
}
